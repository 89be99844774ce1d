/* SPDX-License-Identifier: Apache-2.0 */
/*
 * manual.h — the prose of sluice-controller(8); its OPTIONS and CONFIGURATION FILE
 * sections are generated from the option table in main.c (options__man, --man).
 */
#ifndef SLUICE_CONTROLLER_MANUAL_H
#define SLUICE_CONTROLLER_MANUAL_H

#include "common/options.h"

extern const struct options_man controller_manual;

#endif
