# SPDX-License-Identifier: Apache-2.0
# proto.cmake — proto_c_library(TARGET PROTO...): run protoc-c on each .proto under
# proto/ and build the generated *.pb-c.c into a static library. Output only in the
# build folder, under the same relative path (sluice/v1/x.pb-c.h).

find_program(PROTOC_C_EXE NAMES protoc-c)
if(NOT PROTOC_C_EXE)
  message(FATAL_ERROR "protoc-c not found: it generates the protobuf-c sources. Run deploy/deps.sh as root.")
endif()

function(proto_c_library TARGET)
  set(_srcs)
  set(_out ${CMAKE_BINARY_DIR}/proto)
  foreach(_p ${ARGN})
    file(RELATIVE_PATH _rel ${CMAKE_SOURCE_DIR}/proto ${_p})
    string(REGEX REPLACE "\\.proto$" "" _base ${_rel})
    set(_c ${_out}/${_base}.pb-c.c)
    set(_h ${_out}/${_base}.pb-c.h)
    add_custom_command(
      OUTPUT ${_c} ${_h}
      COMMAND ${CMAKE_COMMAND} -E make_directory ${_out}
      COMMAND ${PROTOC_C_EXE} --proto_path=${CMAKE_SOURCE_DIR}/proto --c_out=${_out} ${_p}
      DEPENDS ${_p}
      COMMENT "protoc-c ${_rel}"
      VERBATIM)
    list(APPEND _srcs ${_c})
  endforeach()
  add_library(${TARGET} STATIC ${_srcs})
  target_include_directories(${TARGET} PUBLIC ${_out})
  target_link_libraries(${TARGET} PUBLIC PkgConfig::PROTOBUF_C)
  set_target_properties(${TARGET} PROPERTIES POSITION_INDEPENDENT_CODE ON)
endfunction()
