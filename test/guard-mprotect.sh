#!/bin/sh
# The overflow tests again with the guards forced to mprotect.
UCO_GUARD=mprotect exec ${UCO_TEST_RUNNER:-} "${top_builddir:-.}/test/test_guard"
