#!/bin/sh
# The fd tests again with the poll backend instead of epoll.
UCO_IO=poll exec ${UCO_TEST_RUNNER:-} "${top_builddir:-.}/test/test_io"
