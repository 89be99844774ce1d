# SPDX-License-Identifier: Apache-2.0
# pkgs.cmake — sluice_require_pkgs("VAR module" ...): pkg_check_modules(VAR IMPORTED_TARGET
# module) for each pair, stopping configure with the fix when one is missing. A macro, so
# VAR_FOUND and the PkgConfig::VAR targets land where it is called.

find_package(PkgConfig REQUIRED)

macro(sluice_require_pkgs)
  foreach(_dep IN ITEMS ${ARGN})
    string(REPLACE " " ";" _dep ${_dep})
    list(GET _dep 0 _var)
    list(GET _dep 1 _pc)
    pkg_check_modules(${_var} IMPORTED_TARGET ${_pc})
    if(NOT ${_var}_FOUND)
      message(FATAL_ERROR "${_pc} (pkg-config) not found. Run deploy/deps.sh as root.")
    endif()
  endforeach()
endmacro()
