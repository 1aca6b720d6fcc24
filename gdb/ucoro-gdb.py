# ucoro-gdb.py - look at ucoro tasks from gdb.
#
#   (gdb) source /usr/local/share/ucoro/ucoro-gdb.py
#   (gdb) ucoro tasks          every task of the current thread's scheduler
#   (gdb) ucoro bt ID          the backtrace of suspended task ID
#
# Works on a live process (attached or started under gdb) and, for the task
# list, on a core file.  The backtrace of a suspended task is printed by
# loading the registers its saved context holds into the current thread for
# a moment (a live process is needed for that), then putting them back.
# The library must have been built with debug information (-g, the
# default), so that gdb knows its structures.

import gdb

STATES = {0: "ready", 1: "running", 2: "waiting", 3: "done"}


def _sched():
    try:
        s = gdb.parse_and_eval("uco__cur")
    except gdb.error as e:
        raise gdb.GdbError("ucoro: cannot read the scheduler (uco__cur): %s" % e)
    if int(s) == 0:
        raise gdb.GdbError("ucoro: this thread runs no scheduler")
    return s.dereference()


def _container(node, field):
    task_t = gdb.lookup_type("struct uco_task")
    off = None
    for f in task_t.fields():
        if f.name == field:
            off = f.bitpos // 8
    addr = int(node) - off
    return gdb.Value(addr).cast(task_t.pointer()).dereference()


def _tasks(s):
    head = s["tasks"].address
    n = s["tasks"]["next"]
    while int(n) != int(head):
        yield _container(n, "all")
        n = n["next"]


def _name(t):
    if int(t["name"]) != 0:
        return t["name"].string()
    return "task-%d" % int(t["id"])


class UcoroPrefix(gdb.Command):
    """Commands for ucoro tasks: ucoro tasks, ucoro bt ID."""

    def __init__(self):
        super().__init__("ucoro", gdb.COMMAND_USER, prefix=True)


class UcoroTasks(gdb.Command):
    """List the tasks of the current thread's ucoro scheduler."""

    def __init__(self):
        super().__init__("ucoro tasks", gdb.COMMAND_USER)

    def invoke(self, arg, from_tty):
        s = _sched()
        cur = int(s["current"])
        print("%6s  %-16s %-8s %-16s %s" % ("id", "name", "state", "waits on", "flags"))
        for t in _tasks(s):
            state = STATES.get(int(t["state"]), "?")
            waits = "-"
            if state == "waiting" and int(t["waits_on"]) != 0:
                waits = t["waits_on"].string()
            flags = []
            if bool(t["cancelled"]):
                flags.append("cancelled")
            if bool(t["shielded"]):
                flags.append("shielded")
            if int(t["flags"]) & 1:
                flags.append("sandbox")
            if int(t.address) == cur:
                flags.append("current")
            print("%6d  %-16s %-8s %-16s %s" % (int(t["id"]), _name(t), state,
                                                waits, " ".join(flags)))


def _saved_regs(t):
    """pc, sp, fp of a suspended task's saved context (x86-64, aarch64)."""
    ctx = t["ctx"]
    arch = gdb.selected_frame().architecture().name()
    names = [f.name for f in ctx.type.fields()]
    if "uc" in names:  # the ucontext backend
        mc = ctx["uc"]["uc_mcontext"]
        if "x86-64" in arch:
            g = mc["gregs"]
            # REG_RBP 10, REG_RSP 15, REG_RIP 16 in glibc's x86-64 ucontext
            return int(g[16]), int(g[15]), int(g[10])
        if "aarch64" in arch:
            return int(mc["pc"]), int(mc["sp"]), int(mc["regs"][29])
    else:  # the fast switch: registers pushed on the task's own stack
        sp = int(ctx["sp"]) & ~1  # bit 0 set: made, not run yet
        u64 = gdb.lookup_type("unsigned long").pointer()
        words = gdb.Value(sp).cast(u64)
        if "x86-64" in arch:
            return int(words[7]), sp + 64, int(words[6])
        if "aarch64" in arch:
            return int(words[11]), sp + 176, int(words[10])
    raise gdb.GdbError("ucoro: backtraces of saved contexts are not supported on " + arch)


class UcoroBt(gdb.Command):
    """Print the backtrace of the suspended ucoro task with the given id."""

    def __init__(self):
        super().__init__("ucoro bt", gdb.COMMAND_USER)

    def invoke(self, arg, from_tty):
        if not arg.strip():
            raise gdb.GdbError("usage: ucoro bt ID")
        want = int(arg.split()[0])
        s = _sched()
        for t in _tasks(s):
            if int(t["id"]) != want:
                continue
            if int(t.address) == int(s["current"]):
                gdb.execute("bt")
                return
            pc, sp, fp = _saved_regs(t)
            arch = gdb.selected_frame().architecture().name()
            names = ("$pc", "$sp", "$rbp") if "x86-64" in arch else ("$pc", "$sp", "$x29")
            gdb.execute("select-frame 0")
            saved = [int(gdb.parse_and_eval(n)) for n in names]
            print("task %d (%s):" % (want, _name(t)))
            try:
                for n, v in zip(names, (pc, sp, fp)):
                    gdb.execute("set %s = %d" % (n, v))
                gdb.execute("bt")
            finally:
                for n, v in zip(names, saved):
                    gdb.execute("set %s = %d" % (n, v))
            return
        raise gdb.GdbError("ucoro: no unfinished task with id %d" % want)


UcoroPrefix()
UcoroTasks()
UcoroBt()
