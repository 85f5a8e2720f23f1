/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Logging through CRIU's log. The plugin is the one layer that logs (see
 * STYLE.md): compress/ and sdma/ return errors, plugin/ says what failed,
 * on which object, and why, once.
 *
 * print_on_level() is exported by the criu executable (criu/log.c); the
 * plugin resolves it when criu dlopen()s us. Levels follow criu/include/log.h.
 */
#ifndef VRAMSTREAM_PLUGIN_LOG_H
#define VRAMSTREAM_PLUGIN_LOG_H

enum {
	PLUGIN_LOG_MSG = 0,
	PLUGIN_LOG_ERROR = 1,
	PLUGIN_LOG_WARN = 2,
	PLUGIN_LOG_INFO = 3,
	PLUGIN_LOG_DEBUG = 4,
};

void print_on_level(unsigned int loglevel, const char *format, ...)
	__attribute__((format(printf, 2, 3)));

/*
 * The fd of criu's log (criu's criu-log.h declares it for plugins, but
 * includes a log.h criu does not install); a guard keeps a copy to say what
 * it did after criu is gone.
 */
int log_get_fd(void);

#define PLUGIN_LOG_PREFIX "vramstream: "

#define pr_err(fmt, ...)  print_on_level(PLUGIN_LOG_ERROR, PLUGIN_LOG_PREFIX fmt "\n", ##__VA_ARGS__)
#define pr_warn(fmt, ...) print_on_level(PLUGIN_LOG_WARN, PLUGIN_LOG_PREFIX fmt "\n", ##__VA_ARGS__)
#define pr_info(fmt, ...) print_on_level(PLUGIN_LOG_INFO, PLUGIN_LOG_PREFIX fmt "\n", ##__VA_ARGS__)
#define pr_debug(fmt, ...)                                                                         \
	print_on_level(PLUGIN_LOG_DEBUG, PLUGIN_LOG_PREFIX fmt "\n", ##__VA_ARGS__)

#endif
