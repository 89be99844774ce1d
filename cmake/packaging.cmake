# SPDX-License-Identifier: Apache-2.0
# packaging.cmake — install rules and Debian packages, one per component:
#   sluice-controller   /usr/sbin/sluice-controller, its systemd unit, manual, example config
#   sluice-agent        /usr/sbin/sluice-agent (BPF objects embedded), unit, manual, example
#   sluicectl           /usr/bin/sluicectl, manual and bash completion (cli_docs.cmake)
# `cpack -G DEB` in the build folder writes the three .debs; their library dependencies
# come from dpkg-shlibdeps. Manual pages and changelogs are compressed as Debian wants
# (gzip -9n: no name or time stamp, so the packages rebuild byte for byte).
include(GNUInstallDirs)

set(SLUICE_SYSTEMD_UNITDIR "/lib/systemd/system" CACHE PATH "Where the systemd units are installed")
set(SLUICE_MAINTAINER "sluice developers <dev@sluice-project.org>") # the Maintainer field
set(SLUICE_COMPONENTS sluice-controller sluice-agent sluicectl)
find_program(GZIP gzip REQUIRED)

# Compresses SRC to OUT (gzip -9n) at build time; the output is added to sluice_pkgdocs.
function(sluice_gzip SRC OUT)
  add_custom_command(OUTPUT ${OUT}
    COMMAND ${GZIP} -9nc ${SRC} > ${OUT}
    DEPENDS ${SRC}
    COMMENT "Compressing ${OUT}"
    VERBATIM)
  set_property(GLOBAL APPEND PROPERTY SLUICE_PKGDOCS ${OUT})
endfunction()

# --- daemons: binaries, units, manuals, example configurations -----------------------
foreach(_d sluice-controller sluice-agent)
  install(TARGETS ${_d} RUNTIME DESTINATION ${CMAKE_INSTALL_SBINDIR} COMPONENT ${_d})
  install(FILES ${CMAKE_SOURCE_DIR}/deploy/systemd/${_d}.service DESTINATION ${SLUICE_SYSTEMD_UNITDIR}
    COMPONENT ${_d})
  set(VERSION ${PROJECT_VERSION}) # the manual's footer
  configure_file(${CMAKE_SOURCE_DIR}/deploy/man/${_d}.8 ${CMAKE_BINARY_DIR}/pkg/${_d}.8 @ONLY)
  sluice_gzip(${CMAKE_BINARY_DIR}/pkg/${_d}.8 ${CMAKE_BINARY_DIR}/pkg/${_d}.8.gz)
  install(FILES ${CMAKE_BINARY_DIR}/pkg/${_d}.8.gz DESTINATION ${CMAKE_INSTALL_MANDIR}/man8 COMPONENT ${_d})
endforeach()
foreach(_e sluice-controller:controller sluice-agent:agent sluicectl:policy)
  string(REPLACE ":" ";" _e ${_e})
  list(GET _e 0 _c)
  list(GET _e 1 _f)
  install(FILES ${CMAKE_SOURCE_DIR}/deploy/examples/${_f}.yaml
    DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/doc/${_c}/examples COMPONENT ${_c})
endforeach()

# sluicectl's manual is installed as generated (cli_docs.cmake, which runs first);
# compress it where it landed.
install(CODE "execute_process(COMMAND ${GZIP} -9nf
  \"\$ENV{DESTDIR}\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_MANDIR}/man8/sluicectl.8\")" COMPONENT sluicectl)

# --- per-package copyright and changelog -----------------------------------------------
string(TIMESTAMP _date "%a, %d %b %Y %H:%M:%S +0000" UTC)
foreach(_c ${SLUICE_COMPONENTS})
  set(PKG ${_c})
  set(VERSION ${PROJECT_VERSION})
  set(MAINTAINER ${SLUICE_MAINTAINER})
  set(DATE ${_date})
  # A native package (no Debian revision): its changelog is changelog.gz.
  configure_file(${CMAKE_SOURCE_DIR}/deploy/debian/changelog.in ${CMAKE_BINARY_DIR}/pkg/${_c}/changelog @ONLY)
  sluice_gzip(${CMAKE_BINARY_DIR}/pkg/${_c}/changelog ${CMAKE_BINARY_DIR}/pkg/${_c}/changelog.gz)
  install(FILES ${CMAKE_SOURCE_DIR}/deploy/debian/copyright ${CMAKE_BINARY_DIR}/pkg/${_c}/changelog.gz
    DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/doc/${_c} COMPONENT ${_c})
endforeach()
get_property(_docs GLOBAL PROPERTY SLUICE_PKGDOCS)
add_custom_target(sluice_pkgdocs ALL DEPENDS ${_docs})
add_dependencies(sluice_pkgdocs sluicectl_docs)

# --- CPack: three Debian packages ------------------------------------------------------
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME sluice)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT ${SLUICE_MAINTAINER})
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_SET_DESTDIR ON) # the units' absolute destination lands in the package, not on this host
set(CPACK_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL ${SLUICE_COMPONENTS})
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_MAINTAINER ${SLUICE_MAINTAINER})

set(CPACK_DEBIAN_SLUICE-CONTROLLER_PACKAGE_NAME sluice-controller)
set(CPACK_DEBIAN_SLUICE-CONTROLLER_PACKAGE_SUGGESTS "sluicectl, prometheus")
set(CPACK_DEBIAN_SLUICE-CONTROLLER_DESCRIPTION "sluice policy controller for fleets of XDP agents
The sluice controller keeps packet-inspection rules and routing policies
in SQLite as immutable, numbered revisions, rolls them out to the node
agents over gRPC (all at once, or in canary waves with health gates and
automatic rollback), and tracks every agent's state. It serves
Prometheus metrics and runs as a systemd service.")

set(CPACK_DEBIAN_SLUICE-AGENT_PACKAGE_NAME sluice-agent)
set(CPACK_DEBIAN_SLUICE-AGENT_PACKAGE_SUGGESTS "sluicectl, bpftool")
set(CPACK_DEBIAN_SLUICE-AGENT_DESCRIPTION "sluice node agent: XDP packet inspection
The sluice agent loads an XDP inspection program on a node's interfaces,
compiles the controller's policy into a new generation of BPF maps and
switches to it atomically, and keeps enforcing the last acknowledged
policy while the controller is away and across its own restarts. It
serves Prometheus metrics and runs as a systemd service.")

set(CPACK_DEBIAN_SLUICECTL_PACKAGE_NAME sluicectl)
set(CPACK_DEBIAN_SLUICECTL_DESCRIPTION "command-line client for the sluice controller
sluicectl applies sluice policies, drives rollouts (start, status, pause,
resume, abort, undo), and shows agents, revisions, rollouts, alerts and
the audit log, as tables for people or JSON and YAML for scripts. Bash
completion is included.")

include(CPack)
