// The program that owns the precompiled header every test program reuses
// (tests/CMakeLists.txt). It has no tests of its own.
#include <gtest/gtest.h>
