// SPDX-License-Identifier: GPL-2.0-or-later
#include <inttypes.h>

#include "plugin_log.h"
#include "plugin_progress.h"

static void progress_log(void *ctx, const struct transfer_job *jobs, unsigned int n_jobs,
			 double elapsed_s)
{
	const struct plugin_progress *p = ctx;
	uint64_t done = 0, total = 0;

	for (unsigned int j = 0; j < n_jobs; j++) {
		done += transfer_job_progress(&jobs[j]);
		for (unsigned int i = 0; i < jobs[j].n_bos; i++)
			total += jobs[j].bos[i].size;
	}
	pr_info("%s of pid %d: %.2f of %.2f GB of GPU memory moved (%.0f%%) after %.0f s", p->what,
		p->pid, done / 1e9, total / 1e9, total ? 100.0 * done / total : 100.0, elapsed_s);
}

void plugin_progress_init(struct plugin_progress *p, const char *what, int pid)
{
	p->what = what;
	p->pid = pid;
	p->tp.fn = progress_log;
	p->tp.ctx = p;
	p->tp.interval_s = PLUGIN_PROGRESS_INTERVAL_S;
}
