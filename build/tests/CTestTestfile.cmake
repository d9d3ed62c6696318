# CMake generated Testfile for 
# Source directory: /work/main/tests
# Build directory: /work/main/build/tests
# 
# This file includes the relevant testing commands required for 
# testing this directory and lists subdirectories to be tested as well.
include("/work/main/build/tests/heap_unit_tests[1]_include.cmake")
add_test([=[cross_arch_32_64_share_one_heap]=] "/work/main/tests/compat/cross_arch_test.sh" "/work/main/build/tests/cross_arch" "/work/main/build-m32/cross_arch" "/work/main/build/heap/shmheap")
set_tests_properties([=[cross_arch_32_64_share_one_heap]=] PROPERTIES  LABELS "compat" TIMEOUT "300" _BACKTRACE_TRIPLES "/work/main/tests/CMakeLists.txt;29;add_test;/work/main/tests/CMakeLists.txt;0;")
