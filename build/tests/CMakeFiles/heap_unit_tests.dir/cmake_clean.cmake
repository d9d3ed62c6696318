file(REMOVE_RECURSE
  "CMakeFiles/heap_unit_tests.dir/unit/heap/arena_test.cc.o"
  "CMakeFiles/heap_unit_tests.dir/unit/heap/arena_test.cc.o.d"
  "CMakeFiles/heap_unit_tests.dir/unit/heap/heap_test.cc.o"
  "CMakeFiles/heap_unit_tests.dir/unit/heap/heap_test.cc.o.d"
  "CMakeFiles/heap_unit_tests.dir/unit/heap/status_test.cc.o"
  "CMakeFiles/heap_unit_tests.dir/unit/heap/status_test.cc.o.d"
  "heap_unit_tests"
  "heap_unit_tests.pdb"
  "heap_unit_tests[1]_tests.cmake"
)

# Per-language clean rules from dependency scanning.
foreach(lang CXX)
  include(CMakeFiles/heap_unit_tests.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
