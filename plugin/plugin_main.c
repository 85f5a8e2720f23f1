// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * CRIU plugin registration and hooks. CRIU dlopen()s every .so in its plugin
 * folder (criu/plugin.c:cr_plugin_init) and looks up CR_PLUGIN_DESC, the one
 * symbol this library exports (plugin/plugin.map).
 *
 * Where each hook runs (observed with CRIU 4.1.1, DESIGN.md): DUMP_EXT_FILE
 * in the criu process on its copy of the task's fd; RESTORE_EXT_FILE and
 * UPDATE_VMA_MAP inside the restored task; RESUME_DEVICES_LATE in the criu
 * process with the task's pid, after the restorer has put every VMA back.
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <criu-plugin.h>

#include "plugin_config.h"
#include "plugin_dmabuf.h"
#include "plugin_dump.h"
#include "plugin_log.h"
#include "plugin_nofile.h"
#include "plugin_restore.h"
#include "plugin_restore_guard.h"
#include "plugin_restore_server.h"

#define DRM_MAJOR	       226
#define DRM_RENDER_MINOR_FIRST 128

/*
 * The plugin's settings for one criu run, read at init. CRIU calls hooks one
 * at a time; owned by this file and handed down by pointer.
 */
static struct plugin_config plugin_cfg;
static struct plugin_dump_session plugin_dump;
/* Restore: the thread in criu's process that BO contents are handed to. */
static struct restore_server *plugin_server;
static struct plugin_nofile server_nofile; /* criu's limit before the restore raised it */
/* Restore: kills the restore's tasks should criu die before it resumes them. */
static struct plugin_restore_guard plugin_rguard = { .pid = 0, .cmd_fd = -1 };

static const char *plugin_stage_name(int stage)
{
	switch (stage) {
	case CR_PLUGIN_STAGE__DUMP:
		return "dump";
	case CR_PLUGIN_STAGE__PRE_DUMP:
		return "pre-dump";
	case CR_PLUGIN_STAGE__RESTORE:
		return "restore";
	}
	return "unknown";
}

/*
 * Starts the overlapped-restore server (plugin_restore_server.h) while criu
 * has not forked the restored tasks yet. Without it, tasks restore their BO
 * contents themselves, which is slower but as correct.
 */
static void start_restore_server(void)
{
	char link[64], dir[PATH_MAX], why[512];
	int dirfd = criu_get_image_dir();
	ssize_t n;

	if (!plugin_cfg.restore_overlap) {
		pr_info("restore: BO contents are restored inside each task "
			"(VRAMSTREAM_RESTORE_OVERLAP=0)");
		return;
	}
	if (dirfd < 0 || plugin_restore_find_kfd_image(dirfd, 0) < 0)
		return;
	snprintf(link, sizeof(link), "/proc/self/fd/%d", dirfd);
	n = readlink(link, dir, sizeof(dir) - 1);
	if (n < 0) {
		pr_warn("restore: cannot name the image folder (%s); BO contents are restored "
			"inside each task",
			strerror(errno));
		return;
	}
	dir[n] = '\0';
	if (restore_server_start(&plugin_cfg, &plugin_dma_sdma_ops, dir, &plugin_server, why,
				 sizeof(why))) {
		pr_warn("restore: %s; BO contents are restored inside each task", why);
		return;
	}
	pr_info("restore: BO contents are restored from criu's process while criu restores "
		"the rest");
	/* The server receives every task's dma-buf fds (plugin_nofile.h). */
	if (plugin_nofile_raise_all(&server_nofile, why, sizeof(why)))
		pr_warn("restore: %s", why);
	else if (server_nofile.raised)
		pr_info("restore: soft RLIMIT_NOFILE raised from %llu to %llu for KFD's dma-buf "
			"fds",
			(unsigned long long)server_nofile.saved.rlim_cur,
			(unsigned long long)server_nofile.saved.rlim_max);
}

static void config_warn(void *ctx, const char *msg)
{
	(void)ctx;
	pr_warn("%s", msg);
}

static int vramstream_plugin_init(int stage)
{
	const struct plugin_config_source src = {
		.get = plugin_config_getenv,
		.file = PLUGIN_CONFIG_FILE,
		.env = environ,
		.warn = config_warn,
	};
	char msg[512];
	int r;

	r = plugin_config_load(&plugin_cfg, &src, msg, sizeof(msg));
	if (r) {
		pr_err("cannot start: %s", msg);
		return r;
	}
	plugin_config_describe(&plugin_cfg, msg, sizeof(msg));
	pr_info("plugin initialised for %s (version " VRAMSTREAM_VERSION ")",
		plugin_stage_name(stage));
	pr_info("settings: %s", msg);
	if (stage == CR_PLUGIN_STAGE__RESTORE) {
		/* Forked before the server's threads exist and before criu forks a task. */
		plugin_restore_guard_start(&plugin_rguard, criu_get_image_dir());
		start_restore_server();
	}
	return 0;
}

static void vramstream_plugin_exit(int stage, int ret)
{
	/* criu has written every image and not yet resumed or killed the tasks. */
	if (stage == CR_PLUGIN_STAGE__DUMP) {
		plugin_dump_finish(&plugin_dump);
		plugin_dmabuf_dump_finish();
	}
	/* Every task that handed contents over was waited for at its resume
	 * when the restore succeeded; after a failure nobody waits. */
	restore_server_stop(plugin_server, ret != 0);
	plugin_server = NULL;
	/* Resumed, or failed and criu killed its tasks itself: the guard leaves. */
	plugin_restore_guard_stop(&plugin_rguard);
	plugin_nofile_restore(&server_nofile);
	pr_info("plugin finished %s (%s)", plugin_stage_name(stage), ret ? "failed" : "ok");
}

/* Built with hidden visibility: the descriptor alone is made visible. */
#pragma GCC visibility push(default)
CR_PLUGIN_REGISTER("vramstream", vramstream_plugin_init, vramstream_plugin_exit)
#pragma GCC visibility pop

enum dev_kind { DEV_OTHER, DEV_KFD, DEV_RENDER };

/* KFD's char major is dynamic: compare with /dev/kfd's. */
static enum dev_kind classify(dev_t rdev)
{
	struct stat kfd;

	if (!stat("/dev/kfd", &kfd) && S_ISCHR(kfd.st_mode) && major(rdev) == major(kfd.st_rdev))
		return DEV_KFD;
	if (major(rdev) == DRM_MAJOR && minor(rdev) >= DRM_RENDER_MINOR_FIRST)
		return DEV_RENDER;
	return DEV_OTHER;
}

static int vramstream_dump_ext_file(int fd, int id)
{
	struct stat st;

	if (fstat(fd, &st))
		return -ENOTSUP;
	if (!S_ISCHR(st.st_mode))
		return plugin_dmabuf_is(fd) ? plugin_dmabuf_dump(criu_get_image_dir(), fd, id)
					    : -ENOTSUP;
	switch (classify(st.st_rdev)) {
	case DEV_KFD:
		return plugin_dump_kfd(&plugin_cfg, &plugin_dump, criu_get_image_dir(), fd, id);
	case DEV_RENDER:
		return plugin_dump_render(&plugin_cfg, criu_get_image_dir(), fd, id,
					  minor(st.st_rdev));
	default:
		return -ENOTSUP;
	}
}
CR_PLUGIN_REGISTER_HOOK(CR_PLUGIN_HOOK__DUMP_EXT_FILE, vramstream_dump_ext_file)

static int vramstream_restore_ext_file(int id)
{
	int r = plugin_restore_kfd(&plugin_cfg, plugin_server, criu_get_image_dir(), id);

	/* Before render nodes, which take any other id of a task with a KFD image as theirs. */
	if (r == -ENOTSUP)
		r = plugin_dmabuf_restore(criu_get_image_dir(), id);
	if (r == -ENOTSUP)
		r = plugin_restore_render(&plugin_cfg, criu_get_image_dir(), id);
	return r;
}
CR_PLUGIN_REGISTER_HOOK(CR_PLUGIN_HOOK__RESTORE_EXT_FILE, vramstream_restore_ext_file)

static int vramstream_handle_device_vma(int fd, const struct stat *st)
{
	/* Mappings of /dev/kfd (doorbells, events, MMIO) and of render nodes
	 * (BOs) are device VMAs criu cannot dump itself; their contents are in
	 * our images and UPDATE_VMA_MAP re-creates them. */
	(void)fd;
	return classify(st->st_rdev) == DEV_OTHER ? -ENOTSUP : 0;
}
CR_PLUGIN_REGISTER_HOOK(CR_PLUGIN_HOOK__HANDLE_DEVICE_VMA, vramstream_handle_device_vma)

static int vramstream_update_vma_map(const char *path, const uint64_t addr,
				     const uint64_t old_pgoff, uint64_t *new_pgoff, int *plugin_fd)
{
	int r = plugin_restore_vma(criu_get_image_dir(), path, addr, old_pgoff, new_pgoff,
				   plugin_fd);

	/*
	 * criu 4.1 ignores this hook's errors (criu/files-reg.c, open_filemap):
	 * it would map the VMA at its old offset, through a file it opens by
	 * path, and the task would run on memory that is not its own. A task
	 * that dies here makes criu fail the whole restore instead.
	 */
	if (r < 0 && r != -ENOTSUP) {
		pr_err("restore of pid %d: killed, a device mapping of it cannot be restored",
		       (int)getpid());
		kill(getpid(), SIGKILL);
	}
	return r;
}
CR_PLUGIN_REGISTER_HOOK(CR_PLUGIN_HOOK__UPDATE_VMA_MAP, vramstream_update_vma_map)

static int vramstream_resume_devices_late(int pid)
{
	int r = plugin_resume_late(&plugin_cfg, plugin_server, criu_get_image_dir(), pid);

	/* Its queues run (or it was killed): the guard need not kill it. */
	plugin_restore_guard_resumed(&plugin_rguard, pid);
	return r;
}
CR_PLUGIN_REGISTER_HOOK(CR_PLUGIN_HOOK__RESUME_DEVICES_LATE, vramstream_resume_devices_late)
