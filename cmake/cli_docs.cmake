# SPDX-License-Identifier: Apache-2.0
# cli_docs.cmake — sluicectl's bash completion script and sluicectl(8) manual page.
# Both are written by the built binary from its own command table (`sluicectl
# completion bash`, `sluicectl man`), so they always match the commands it has; then
# they are installed with it.
include(GNUInstallDirs)

set(SLUICECTL_COMPLETION ${CMAKE_BINARY_DIR}/share/bash-completion/completions/sluicectl)
set(SLUICECTL_MAN ${CMAKE_BINARY_DIR}/share/man/man8/sluicectl.8)
add_custom_command(OUTPUT ${SLUICECTL_COMPLETION} ${SLUICECTL_MAN}
  COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_BINARY_DIR}/share/bash-completion/completions
  COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_BINARY_DIR}/share/man/man8
  COMMAND sh -c "\"$1\" completion bash > \"$2\" && \"$1\" man > \"$3\"" sh
    $<TARGET_FILE:sluicectl> ${SLUICECTL_COMPLETION} ${SLUICECTL_MAN}
  DEPENDS sluicectl
  COMMENT "Generating sluicectl's bash completion and manual page"
  VERBATIM)
add_custom_target(sluicectl_docs ALL DEPENDS ${SLUICECTL_COMPLETION} ${SLUICECTL_MAN})

install(TARGETS sluicectl RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT sluicectl)
install(FILES ${SLUICECTL_COMPLETION} DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions
  COMPONENT sluicectl)
install(FILES ${SLUICECTL_MAN} DESTINATION ${CMAKE_INSTALL_MANDIR}/man8 COMPONENT sluicectl)
