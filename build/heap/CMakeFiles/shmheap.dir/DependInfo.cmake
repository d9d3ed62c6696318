
# Consider dependencies only in project.
set(CMAKE_DEPENDS_IN_PROJECT_ONLY OFF)

# The set of languages for which implicit dependencies are needed:
set(CMAKE_DEPENDS_LANGUAGES
  )

# The set of dependency files which are needed:
set(CMAKE_DEPENDS_DEPENDENCY_FILES
  "/work/main/heap/src/arena.cc" "heap/CMakeFiles/shmheap.dir/src/arena.cc.o" "gcc" "heap/CMakeFiles/shmheap.dir/src/arena.cc.o.d"
  "/work/main/heap/src/arena_check.cc" "heap/CMakeFiles/shmheap.dir/src/arena_check.cc.o" "gcc" "heap/CMakeFiles/shmheap.dir/src/arena_check.cc.o.d"
  "/work/main/heap/src/backing_file.cc" "heap/CMakeFiles/shmheap.dir/src/backing_file.cc.o" "gcc" "heap/CMakeFiles/shmheap.dir/src/backing_file.cc.o.d"
  "/work/main/heap/src/c_api.cc" "heap/CMakeFiles/shmheap.dir/src/c_api.cc.o" "gcc" "heap/CMakeFiles/shmheap.dir/src/c_api.cc.o.d"
  "/work/main/heap/src/client_table.cc" "heap/CMakeFiles/shmheap.dir/src/client_table.cc.o" "gcc" "heap/CMakeFiles/shmheap.dir/src/client_table.cc.o.d"
  "/work/main/heap/src/heap_impl.cc" "heap/CMakeFiles/shmheap.dir/src/heap_impl.cc.o" "gcc" "heap/CMakeFiles/shmheap.dir/src/heap_impl.cc.o.d"
  "/work/main/heap/src/heap_locks.cc" "heap/CMakeFiles/shmheap.dir/src/heap_locks.cc.o" "gcc" "heap/CMakeFiles/shmheap.dir/src/heap_locks.cc.o.d"
  "/work/main/heap/src/heap_objects.cc" "heap/CMakeFiles/shmheap.dir/src/heap_objects.cc.o" "gcc" "heap/CMakeFiles/shmheap.dir/src/heap_objects.cc.o.d"
  "/work/main/heap/src/heap_report.cc" "heap/CMakeFiles/shmheap.dir/src/heap_report.cc.o" "gcc" "heap/CMakeFiles/shmheap.dir/src/heap_report.cc.o.d"
  "/work/main/heap/src/hold_table.cc" "heap/CMakeFiles/shmheap.dir/src/hold_table.cc.o" "gcc" "heap/CMakeFiles/shmheap.dir/src/hold_table.cc.o.d"
  "/work/main/heap/src/log.cc" "heap/CMakeFiles/shmheap.dir/src/log.cc.o" "gcc" "heap/CMakeFiles/shmheap.dir/src/log.cc.o.d"
  "/work/main/heap/src/mapping.cc" "heap/CMakeFiles/shmheap.dir/src/mapping.cc.o" "gcc" "heap/CMakeFiles/shmheap.dir/src/mapping.cc.o.d"
  "/work/main/heap/src/object_index.cc" "heap/CMakeFiles/shmheap.dir/src/object_index.cc.o" "gcc" "heap/CMakeFiles/shmheap.dir/src/object_index.cc.o.d"
  "/work/main/heap/src/object_lock.cc" "heap/CMakeFiles/shmheap.dir/src/object_lock.cc.o" "gcc" "heap/CMakeFiles/shmheap.dir/src/object_lock.cc.o.d"
  "/work/main/heap/src/records.cc" "heap/CMakeFiles/shmheap.dir/src/records.cc.o" "gcc" "heap/CMakeFiles/shmheap.dir/src/records.cc.o.d"
  "/work/main/heap/src/recovery.cc" "heap/CMakeFiles/shmheap.dir/src/recovery.cc.o" "gcc" "heap/CMakeFiles/shmheap.dir/src/recovery.cc.o.d"
  "/work/main/heap/src/shared_mutex.cc" "heap/CMakeFiles/shmheap.dir/src/shared_mutex.cc.o" "gcc" "heap/CMakeFiles/shmheap.dir/src/shared_mutex.cc.o.d"
  "/work/main/heap/src/space.cc" "heap/CMakeFiles/shmheap.dir/src/space.cc.o" "gcc" "heap/CMakeFiles/shmheap.dir/src/space.cc.o.d"
  "/work/main/heap/src/status.cc" "heap/CMakeFiles/shmheap.dir/src/status.cc.o" "gcc" "heap/CMakeFiles/shmheap.dir/src/status.cc.o.d"
  "/work/main/heap/src/undo_log.cc" "heap/CMakeFiles/shmheap.dir/src/undo_log.cc.o" "gcc" "heap/CMakeFiles/shmheap.dir/src/undo_log.cc.o.d"
  )

# Targets to which this target links.
set(CMAKE_TARGET_LINKED_INFO_FILES
  )

# Fortran module output directory.
set(CMAKE_Fortran_TARGET_MODULE_DIR "")
