# Empty dependencies file for heap_unit_tests.
# This may be replaced when dependencies are built.
