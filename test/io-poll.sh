#!/bin/sh
# The fd tests, and a scheduler driven by another loop, again with the poll
# backend instead of epoll.
UCO_IO=poll ${UCO_TEST_RUNNER:-} "${top_builddir:-.}/test/test_io" || exit 1
UCO_IO=poll exec ${UCO_TEST_RUNNER:-} "${top_builddir:-.}/test/test_embed"
