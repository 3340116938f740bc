# The addon's C++ sources as CMake reads them: native/sources.json, the list
# binding.gyp compiles, so the CMake builds (fuzzer, sanitizer) cannot drift
# from the node-gyp one. Sets IMAGEBACKEND_SOURCES (absolute paths) and makes
# a change of the list reconfigure.
get_filename_component(IMAGEBACKEND_ROOT "${CMAKE_CURRENT_LIST_DIR}/.." ABSOLUTE)
file(READ "${IMAGEBACKEND_ROOT}/native/sources.json" _ib_sources_json)
string(JSON _ib_count LENGTH "${_ib_sources_json}")
math(EXPR _ib_last "${_ib_count} - 1")
set(IMAGEBACKEND_SOURCES "")
foreach(_ib_i RANGE ${_ib_last})
  string(JSON _ib_src GET "${_ib_sources_json}" ${_ib_i})
  list(APPEND IMAGEBACKEND_SOURCES "${IMAGEBACKEND_ROOT}/${_ib_src}")
endforeach()
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS "${IMAGEBACKEND_ROOT}/native/sources.json")
