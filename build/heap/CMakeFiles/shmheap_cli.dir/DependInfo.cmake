
# Consider dependencies only in project.
set(CMAKE_DEPENDS_IN_PROJECT_ONLY OFF)

# The set of languages for which implicit dependencies are needed:
set(CMAKE_DEPENDS_LANGUAGES
  )

# The set of dependency files which are needed:
set(CMAKE_DEPENDS_DEPENDENCY_FILES
  "/work/main/heap/cli/cmd_cat.cc" "heap/CMakeFiles/shmheap_cli.dir/cli/cmd_cat.cc.o" "gcc" "heap/CMakeFiles/shmheap_cli.dir/cli/cmd_cat.cc.o.d"
  "/work/main/heap/cli/cmd_check.cc" "heap/CMakeFiles/shmheap_cli.dir/cli/cmd_check.cc.o" "gcc" "heap/CMakeFiles/shmheap_cli.dir/cli/cmd_check.cc.o.d"
  "/work/main/heap/cli/cmd_clients.cc" "heap/CMakeFiles/shmheap_cli.dir/cli/cmd_clients.cc.o" "gcc" "heap/CMakeFiles/shmheap_cli.dir/cli/cmd_clients.cc.o.d"
  "/work/main/heap/cli/cmd_create.cc" "heap/CMakeFiles/shmheap_cli.dir/cli/cmd_create.cc.o" "gcc" "heap/CMakeFiles/shmheap_cli.dir/cli/cmd_create.cc.o.d"
  "/work/main/heap/cli/cmd_ls.cc" "heap/CMakeFiles/shmheap_cli.dir/cli/cmd_ls.cc.o" "gcc" "heap/CMakeFiles/shmheap_cli.dir/cli/cmd_ls.cc.o.d"
  "/work/main/heap/cli/cmd_put.cc" "heap/CMakeFiles/shmheap_cli.dir/cli/cmd_put.cc.o" "gcc" "heap/CMakeFiles/shmheap_cli.dir/cli/cmd_put.cc.o.d"
  "/work/main/heap/cli/cmd_rm.cc" "heap/CMakeFiles/shmheap_cli.dir/cli/cmd_rm.cc.o" "gcc" "heap/CMakeFiles/shmheap_cli.dir/cli/cmd_rm.cc.o.d"
  "/work/main/heap/cli/cmd_stat.cc" "heap/CMakeFiles/shmheap_cli.dir/cli/cmd_stat.cc.o" "gcc" "heap/CMakeFiles/shmheap_cli.dir/cli/cmd_stat.cc.o.d"
  "/work/main/heap/cli/common.cc" "heap/CMakeFiles/shmheap_cli.dir/cli/common.cc.o" "gcc" "heap/CMakeFiles/shmheap_cli.dir/cli/common.cc.o.d"
  "/work/main/heap/cli/main.cc" "heap/CMakeFiles/shmheap_cli.dir/cli/main.cc.o" "gcc" "heap/CMakeFiles/shmheap_cli.dir/cli/main.cc.o.d"
  )

# Targets to which this target links.
set(CMAKE_TARGET_LINKED_INFO_FILES
  "/work/main/build/heap/CMakeFiles/shmheap.dir/DependInfo.cmake"
  )

# Fortran module output directory.
set(CMAKE_Fortran_TARGET_MODULE_DIR "")
