/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Moves BO contents between GPUs and stream files: the data path of
 * DESIGN.md (SDMA -> pinned buffers -> compress/ -> io_uring, and back),
 * one job per GPU, all GPUs in parallel.
 */
#ifndef VRAMSTREAM_PLUGIN_TRANSFER_H
#define VRAMSTREAM_PLUGIN_TRANSFER_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "plugin_config.h"
#include "plugin_dma.h"

struct compress_dedup;
struct Vramstream__ProcessImage;

struct transfer_bo {
	uint64_t size;
	int dmabuf_fd; /* the BO, as KFD exported it */
	uint64_t tag;  /* stream tag of its chunks: the BO's index in the image */
};

struct transfer_stats {
	uint64_t bytes;	 /* GPU memory moved */
	uint64_t stored; /* bytes in the stream file */
	uint64_t chunks_zero, chunks_raw, chunks_zstd, chunks_ref;
	uint64_t ref_bytes;  /* GPU bytes stored as references (dump) or read through them */
	double seconds;	     /* wall time of the job */
	double setup_s;	     /* of which starting: engine, pinned buffers, stream files */
	double dma_busy_s;   /* time the DMA stage was busy */
	double codec_busy_s; /* compression or decompression, summed over workers */
	double io_busy_s;    /* I/O submit-to-completion, summed */
	/* time the GPU's thread spent waiting on the CPU side: for a buffer or
	 * for room in a stream file (dump), for reads to land (restore) */
	double feed_wait_s;
	/*
	 * Where the GPU's thread spent its wall time: queueing copies and fills
	 * on the engine; blocked on the oldest copy; polling the rings and
	 * napping between polls (restore); handing buffers to compress/ (push
	 * on dump, read on restore, both block while its queue is full); waiting
	 * for a buffer to come back (dump) or a read to land (restore). The
	 * last two make feed_wait_s. And the thread's CPU time.
	 */
	double gpu_issue_s, gpu_dma_wait_s, gpu_poll_s, gpu_submit_s, gpu_wait_s, gpu_cpu_s;
	/* compress/ stages of the job's stream files, busy seconds summed over
	 * threads (codec_busy_s and io_busy_s above are two more) */
	double zero_s, filter_s, checksum_s, copy_s;
	uint64_t io_bytes; /* bytes read or written, for io_busy_s */
	/* CPU seconds of compress/'s workers and completion threads */
	double workers_cpu_s, completion_cpu_s;
	unsigned int workers; /* compress/ workers over all the job's files */
};

struct transfer_job {
	/* in */
	uint32_t gpu_id;       /* for messages */
	uint32_t render_minor; /* the GPU's render node on this machine */
	struct transfer_bo *bos;
	unsigned int n_bos;
	/* The job owns the BOs' fds: each is closed (and set to -1) as soon as
	 * the engine has imported it, which holds the BO without an fd, so a
	 * job of any number of BOs holds none of theirs while it copies. */
	bool close_fds;
	/* The stream, striped over n_parts files: stream_path and, for parts
	 * 1.., image_part_name(). Dump: 0 = chosen from the settings (set on
	 * return); restore: as the image says (0 = 1). */
	char stream_path[PATH_MAX];
	unsigned int n_parts;
	/* Restore stops (-ECANCELED) once *cancel is non-zero; NULL: never. */
	const int *cancel;
	/* Dump: the content table whose chunks are written as references
	 * (image_parent_open), NULL for none; part p of this job's stream is
	 * source IMAGE_SOURCE_OWN(source_index, p). */
	struct compress_dedup *dedup;
	unsigned int source_index;
	/* Restore: the image whose list of stream files references name
	 * (image_sources_attach), and its folder; NULL when it has none. */
	const struct Vramstream__ProcessImage *refs_img;
	int refs_dirfd;
	/* ... and the name of that image's KFD metadata file in its folder, for a
	 * restore server, which reads the list itself ("" when there is none). */
	char refs_meta[128];
	/* out */
	int status;
	char err[600];
	struct transfer_stats stats;
	/* GPU bytes handed on so far (to compress/ on dump, to the engine on
	 * restore); read it with transfer_job_progress() while the job runs. */
	uint64_t progress;
};

/* How far a running job is; safe from any thread. */
uint64_t transfer_job_progress(const struct transfer_job *job);

/* A CLOCK_REALTIME deadline @seconds from now, for pthread_cond_timedwait. */
struct timespec;
void transfer_deadline(double seconds, struct timespec *ts);

/*
 * Called on the thread that called transfer_*_progress() about every
 * @interval_s seconds while jobs run (every job then runs on a thread of its
 * own), so the caller can log progress where logging is safe.
 */
struct transfer_progress {
	void (*fn)(void *ctx, const struct transfer_job *jobs, unsigned int n_jobs,
		   double elapsed_s);
	void *ctx;
	double interval_s;
};

/* Dump: read every job's BOs into its stream file. Returns the first job's
 * error (each job's own status and err say what failed where). */
int transfer_dump(const struct plugin_config *cfg, const struct plugin_dma_ops *dma,
		  struct transfer_job *jobs, unsigned int n_jobs);

/* Restore: write every job's stream file back into its BOs. */
int transfer_restore(const struct plugin_config *cfg, const struct plugin_dma_ops *dma,
		     struct transfer_job *jobs, unsigned int n_jobs);

/* The same, reporting progress through @progress (NULL: none). */
int transfer_dump_progress(const struct plugin_config *cfg, const struct plugin_dma_ops *dma,
			   struct transfer_job *jobs, unsigned int n_jobs,
			   const struct transfer_progress *progress);
int transfer_restore_progress(const struct plugin_config *cfg, const struct plugin_dma_ops *dma,
			      struct transfer_job *jobs, unsigned int n_jobs,
			      const struct transfer_progress *progress);

#endif
