# SPDX-License-Identifier: Apache-2.0
# bpf.cmake — bpf_skeleton(NAME SOURCE): compile one bpf/*.bpf.c with clang into
# ${CMAKE_BINARY_DIR}/bpf/NAME.bpf.o and generate NAME.skel.h beside it with bpftool.
# Generated files live only in the build folder.

find_program(CLANG_EXE NAMES clang-14 clang)
find_program(BPFTOOL_EXE NAMES bpftool PATHS /usr/sbin /sbin)
if(NOT CLANG_EXE)
  message(FATAL_ERROR "clang not found: it compiles the BPF programs. Run deploy/deps.sh as root.")
endif()
if(NOT BPFTOOL_EXE)
  message(FATAL_ERROR "bpftool not found: it generates the BPF skeletons. Run deploy/deps.sh as root.")
endif()
execute_process(COMMAND ${CLANG_EXE} --version OUTPUT_VARIABLE _clang_ver)
string(REGEX MATCH "version ([0-9]+)" _m "${_clang_ver}")
if(CMAKE_MATCH_1 AND CMAKE_MATCH_1 LESS 11)
  message(FATAL_ERROR "clang ${CMAKE_MATCH_1} is too old for BPF CO-RE; need 11 or newer")
endif()

set(SLUICE_BPF_OUT ${CMAKE_BINARY_DIR}/bpf)
file(MAKE_DIRECTORY ${SLUICE_BPF_OUT})
file(GLOB SLUICE_BPF_HEADERS ${CMAKE_SOURCE_DIR}/bpf/*.h ${CMAKE_SOURCE_DIR}/bpf/lib/*.h)

function(bpf_skeleton NAME SOURCE)
  set(_obj ${SLUICE_BPF_OUT}/${NAME}.bpf.o)
  set(_skel ${SLUICE_BPF_OUT}/${NAME}.skel.h)
  add_custom_command(
    OUTPUT ${_obj}
    COMMAND ${CLANG_EXE} -O2 -g -target bpf -D__TARGET_ARCH_x86 -Wall -Werror
            -I${CMAKE_SOURCE_DIR}/bpf -I/usr/include/x86_64-linux-gnu
            -c ${SOURCE} -o ${_obj}
    DEPENDS ${SOURCE} ${SLUICE_BPF_HEADERS}
    COMMENT "BPF ${NAME}.bpf.o"
    VERBATIM)
  add_custom_command(
    OUTPUT ${_skel}
    COMMAND sh -c "${BPFTOOL_EXE} gen skeleton ${_obj} name ${NAME} > ${_skel}.tmp && mv ${_skel}.tmp ${_skel}"
    DEPENDS ${_obj}
    COMMENT "BPF skeleton ${NAME}.skel.h"
    VERBATIM)
  add_custom_target(bpf_${NAME} DEPENDS ${_skel})
endfunction()
