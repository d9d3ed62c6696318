file(REMOVE_RECURSE
  "CMakeFiles/shmheap_cli.dir/cli/cmd_cat.cc.o"
  "CMakeFiles/shmheap_cli.dir/cli/cmd_cat.cc.o.d"
  "CMakeFiles/shmheap_cli.dir/cli/cmd_check.cc.o"
  "CMakeFiles/shmheap_cli.dir/cli/cmd_check.cc.o.d"
  "CMakeFiles/shmheap_cli.dir/cli/cmd_clients.cc.o"
  "CMakeFiles/shmheap_cli.dir/cli/cmd_clients.cc.o.d"
  "CMakeFiles/shmheap_cli.dir/cli/cmd_create.cc.o"
  "CMakeFiles/shmheap_cli.dir/cli/cmd_create.cc.o.d"
  "CMakeFiles/shmheap_cli.dir/cli/cmd_ls.cc.o"
  "CMakeFiles/shmheap_cli.dir/cli/cmd_ls.cc.o.d"
  "CMakeFiles/shmheap_cli.dir/cli/cmd_put.cc.o"
  "CMakeFiles/shmheap_cli.dir/cli/cmd_put.cc.o.d"
  "CMakeFiles/shmheap_cli.dir/cli/cmd_rm.cc.o"
  "CMakeFiles/shmheap_cli.dir/cli/cmd_rm.cc.o.d"
  "CMakeFiles/shmheap_cli.dir/cli/cmd_stat.cc.o"
  "CMakeFiles/shmheap_cli.dir/cli/cmd_stat.cc.o.d"
  "CMakeFiles/shmheap_cli.dir/cli/common.cc.o"
  "CMakeFiles/shmheap_cli.dir/cli/common.cc.o.d"
  "CMakeFiles/shmheap_cli.dir/cli/main.cc.o"
  "CMakeFiles/shmheap_cli.dir/cli/main.cc.o.d"
  "shmheap"
  "shmheap.pdb"
)

# Per-language clean rules from dependency scanning.
foreach(lang CXX)
  include(CMakeFiles/shmheap_cli.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
