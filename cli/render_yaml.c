// SPDX-License-Identifier: Apache-2.0
/*
 * render_yaml.c — the one place sluicectl chooses between its structured outputs:
 * `-o json` (jansson, 2-space indent, keys in insertion order) and `-o yaml`, the same
 * document written through libyaml's emitter. Strings that a YAML reader would take
 * for something else (numbers, booleans, null, timestamps) are quoted, so both formats
 * read back as the same data.
 */
#include <errno.h>
#include <regex.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <yaml.h>

#include "cli/render.h"

bool cli_render__structured(const struct cli_opts *o)
{
	return o->output == CLI_OUT_JSON || o->output == CLI_OUT_YAML;
}

/* Would a YAML 1.1 or 1.2 reader resolve s as anything but a string (a number, a
 * boolean, null or a timestamp)? Those are written quoted; everything else plain,
 * where libyaml allows it, so addresses and "10%" read as the file would have them. */
static bool needs_quotes(const char *s)
{
	static const char *const words[] = { "null", "~", "true", "false", "yes", "no", "on", "off", "y", "n" };
	static const char *const patterns[] = {
		"^[-+]?[0-9][0-9_]*$",					/* int */
		"^[-+]?0[xob][0-9a-fA-F_]+$",				/* hex, octal, binary */
		"^[-+]?[0-9][0-9_]*(:[0-5]?[0-9])+(\\.[0-9_]*)?$",	/* sexagesimal (1.1) */
		"^[-+]?([0-9][0-9_]*)?\\.[0-9_]*([eE][-+]?[0-9]+)?$", /* float */
		"^[-+]?[0-9][0-9_]*(\\.[0-9_]*)?[eE][-+]?[0-9]+$",	/* float with exponent */
		"^[-+]?\\.(inf|Inf|INF|nan|NaN|NAN)$",
		"^[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}",			/* timestamp */
	};
	static regex_t re[sizeof(patterns) / sizeof(patterns[0])];
	static bool compiled;

	if (!*s)
		return true;
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (strcasecmp(s, words[i]) == 0)
			return true;
	if (!compiled) {
		for (size_t i = 0; i < sizeof(patterns) / sizeof(patterns[0]); i++)
			if (regcomp(&re[i], patterns[i], REG_EXTENDED | REG_NOSUB))
				return true; /* cannot happen; quoting is always safe */
		compiled = true;
	}
	for (size_t i = 0; i < sizeof(patterns) / sizeof(patterns[0]); i++)
		if (regexec(&re[i], s, 0, NULL, 0) == 0)
			return true;
	return false;
}

static int scalar(yaml_emitter_t *em, const char *tag, const char *text, yaml_scalar_style_t style)
{
	yaml_event_t ev;

	if (!yaml_scalar_event_initialize(&ev, NULL, (yaml_char_t *)tag, (yaml_char_t *)text, (int)strlen(text),
					  1, 1, style))
		return -ENOMEM;
	return yaml_emitter_emit(em, &ev) ? 0 : -EIO;
}

static int emit(yaml_emitter_t *em, json_t *j)
{
	yaml_event_t ev;
	char num[64];
	int err = 0;

	switch (json_typeof(j)) {
	case JSON_OBJECT: {
		const char *k;
		json_t *v;

		yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_MAPPING_STYLE);
		if (!yaml_emitter_emit(em, &ev))
			return -EIO;
		json_object_foreach (j, k, v) {
			err = scalar(em, NULL, k, needs_quotes(k) ? YAML_DOUBLE_QUOTED_SCALAR_STYLE : YAML_ANY_SCALAR_STYLE);
			if (!err)
				err = emit(em, v);
			if (err)
				return err;
		}
		yaml_mapping_end_event_initialize(&ev);
		return yaml_emitter_emit(em, &ev) ? 0 : -EIO;
	}
	case JSON_ARRAY: {
		size_t i;
		json_t *v;

		yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_SEQUENCE_STYLE);
		if (!yaml_emitter_emit(em, &ev))
			return -EIO;
		json_array_foreach (j, i, v) {
			err = emit(em, v);
			if (err)
				return err;
		}
		yaml_sequence_end_event_initialize(&ev);
		return yaml_emitter_emit(em, &ev) ? 0 : -EIO;
	}
	case JSON_STRING:
		return scalar(em, NULL, json_string_value(j),
			      needs_quotes(json_string_value(j)) ? YAML_DOUBLE_QUOTED_SCALAR_STYLE : YAML_ANY_SCALAR_STYLE);
	case JSON_INTEGER:
		snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, json_integer_value(j));
		return scalar(em, NULL, num, YAML_PLAIN_SCALAR_STYLE);
	case JSON_REAL:
		snprintf(num, sizeof(num), "%.17g", json_real_value(j));
		return scalar(em, NULL, num, YAML_PLAIN_SCALAR_STYLE);
	case JSON_TRUE:
		return scalar(em, NULL, "true", YAML_PLAIN_SCALAR_STYLE);
	case JSON_FALSE:
		return scalar(em, NULL, "false", YAML_PLAIN_SCALAR_STYLE);
	default:
		return scalar(em, NULL, "null", YAML_PLAIN_SCALAR_STYLE);
	}
}

int cli_render__yaml(json_t *j, FILE *out)
{
	yaml_emitter_t em;
	yaml_event_t ev;
	int err = -EIO;

	if (!j)
		return -ENOMEM;
	if (!yaml_emitter_initialize(&em)) {
		json_decref(j);
		return -ENOMEM;
	}
	yaml_emitter_set_output_file(&em, out);
	yaml_emitter_set_unicode(&em, 1);
	yaml_emitter_set_width(&em, -1);
	yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING);
	if (!yaml_emitter_emit(&em, &ev))
		goto cleanup;
	yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1);
	if (!yaml_emitter_emit(&em, &ev))
		goto cleanup;
	err = emit(&em, j);
	if (err)
		goto cleanup;
	err = -EIO;
	yaml_document_end_event_initialize(&ev, 1);
	if (!yaml_emitter_emit(&em, &ev))
		goto cleanup;
	yaml_stream_end_event_initialize(&ev);
	if (!yaml_emitter_emit(&em, &ev) || !yaml_emitter_flush(&em))
		goto cleanup;
	err = 0;
cleanup:
	yaml_emitter_delete(&em);
	json_decref(j);
	return err;
}

int cli_render__data(const struct cli_opts *o, json_t *j, FILE *out)
{
	return o->output == CLI_OUT_YAML ? cli_render__yaml(j, out) : cli_render__json(j, out);
}
