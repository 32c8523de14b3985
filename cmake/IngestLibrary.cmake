# ingest_library(NAME DIR DEPS...): a static library from every .cc in DIR except
# tests, benchmarks and mains, so adding a file to a component needs no CMake edit.
function(ingest_library name dir)
  file(GLOB sources CONFIGURE_DEPENDS ${dir}/*.cc)
  list(FILTER sources EXCLUDE REGEX "(_test|_benchmark|_main)\\.cc$")
  if(sources)
    add_library(${name} STATIC ${sources})
    target_include_directories(${name} PUBLIC ${PROJECT_SOURCE_DIR})
    target_link_libraries(${name} PUBLIC ${ARGN})
  else()
    # A header-only component (or one not written yet).
    add_library(${name} INTERFACE)
    target_include_directories(${name} INTERFACE ${PROJECT_SOURCE_DIR})
    target_link_libraries(${name} INTERFACE ${ARGN})
  endif()
endfunction()

# ingest_executable(NAME MAIN DEPS...): skipped while MAIN does not exist yet.
function(ingest_executable name main)
  if(EXISTS ${main})
    add_executable(${name} ${main})
    target_link_libraries(${name} PRIVATE ${ARGN})
  endif()
endfunction()
