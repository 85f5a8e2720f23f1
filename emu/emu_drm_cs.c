/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Contexts, BO lists, command submission and fences of an emulated render-node file,
 * following the kernel's amdgpu_ctx.c (amdgpu_ctx_ioctl, amdgpu_ctx_get_entity,
 * amdgpu_ctx_get_fence), amdgpu_bo_list.c and amdgpu_cs.c (amdgpu_cs_ioctl and its passes,
 * amdgpu_cs_wait_ioctl, amdgpu_cs_wait_fences_ioctl).
 *
 * A context's DMA ring number names a scheduler entity, not an engine: as
 * drm_sched_entity_select_rq() does, an idle entity moves to the least loaded SDMA engine
 * and stays there while it has jobs, so one entity's jobs run in order. Work spreads over
 * the engines when several entities (rings of a context, or several contexts) are busy.
 *
 * IBs are copied at submission and checked there by a dry run of the SDMA engine, so a
 * malformed packet or an unmapped address fails the CS ioctl itself (-EINVAL / -EFAULT); a
 * failure found only while running (a mapping removed meanwhile, a poll that never ends)
 * becomes the fence's error, returned by WAIT_CS and WAIT_FENCES.
 */
#include "emu_drm_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* vega10_sdma_pkt_open.h SDMA_PKT_INDIRECT_IB_SIZE: an IB holds at most 2^20 - 1 dwords. */
#define EMU_DRM_IB_MAX_DW 0x000fffffu
/* sdma_v4_0_ring_emit_ib writes the IB address with its low 5 bits cleared. */
#define EMU_DRM_IB_ALIGN 32u

/* Under file->lock. */
/* The packet rules of the SDMA IP version the device reports (emu_drm_info.c), or of SDMA 4.4
 * for a config that emu_config_check would have refused. */
static const struct emu_sdma_gen *emu_drm_sdma_gen(const struct emu_drm_file *file)
{
	const struct emu_sdma_gen *gen = emu_sdma_gen_find(file->dev->cfg.sdma_ip_version);

	return gen ? gen : emu_sdma_gen_find(EMU_IP_VERSION(4, 4, 0));
}

static struct emu_drm_ctx *emu_drm_ctx_lookup(struct emu_drm_file *file, uint32_t id)
{
	return id < file->nctxs && file->ctxs[id] && !file->ctxs[id]->freed ? file->ctxs[id] : NULL;
}

/* Under file->lock. */
static void emu_drm_ctx_put(struct emu_drm_file *file, struct emu_drm_ctx *ctx)
{
	if (--ctx->refs == 0) {
		if (ctx->id < file->nctxs && file->ctxs[ctx->id] == ctx)
			file->ctxs[ctx->id] = NULL;
		free(ctx);
	}
}

/* amdgpu_ctx_get_entity: only DMA entities carry jobs here; other IPs are valid names. */
static int emu_drm_entity_check(uint32_t ip, uint32_t instance, uint32_t ring)
{
	static const unsigned int num_entities[AMDGPU_HW_IP_NUM] = {
		[AMDGPU_HW_IP_GFX] = 1,	    [AMDGPU_HW_IP_COMPUTE] = 4, [AMDGPU_HW_IP_DMA] = 2,
		[AMDGPU_HW_IP_UVD] = 1,	    [AMDGPU_HW_IP_VCE] = 1,	[AMDGPU_HW_IP_UVD_ENC] = 1,
		[AMDGPU_HW_IP_VCN_DEC] = 1, [AMDGPU_HW_IP_VCN_ENC] = 1, [AMDGPU_HW_IP_VCN_JPEG] = 1,
	};

	if (ip >= AMDGPU_HW_IP_NUM || instance != 0 || ring >= num_entities[ip])
		return -EINVAL;
	return 0;
}

int emu_drm_ctx_ioctl(struct emu_drm_file *file, void *arg)
{
	union drm_amdgpu_ctx *args = arg;
	uint32_t id = args->in.ctx_id, op = args->in.op;
	struct emu_drm_ctx *ctx;
	int err = 0;

	pthread_mutex_lock(&file->lock);
	switch (op) {
	case AMDGPU_CTX_OP_ALLOC_CTX:
		/* amdgpu_ctx_alloc: idr_alloc(1, AMDGPU_VM_MAX_NUM_CTX). */
		for (id = 1; id < file->nctxs && file->ctxs[id]; id++)
			;
		if (id >= EMU_DRM_MAX_CTX) {
			err = -ENOSPC;
			break;
		}
		if (id >= file->nctxs) {
			uint32_t n = file->nctxs ? file->nctxs * 2 : 16;
			struct emu_drm_ctx **c = realloc(file->ctxs, n * sizeof(*c));

			if (!c) {
				err = -ENOMEM;
				break;
			}
			memset(c + file->nctxs, 0, (n - file->nctxs) * sizeof(*c));
			file->ctxs = c;
			file->nctxs = n;
		}
		ctx = calloc(1, sizeof(*ctx));
		if (!ctx) {
			err = -ENOMEM;
			break;
		}
		ctx->id = id;
		ctx->refs = 1;
		for (unsigned int e = 0; e < EMU_DRM_DMA_ENTITIES; e++)
			ctx->dma[e].next_seq = 1;
		file->ctxs[id] = ctx;
		memset(args, 0, sizeof(*args));
		args->out.alloc.ctx_id = id;
		break;
	case AMDGPU_CTX_OP_FREE_CTX:
		ctx = emu_drm_ctx_lookup(file, id);
		if (!ctx) {
			err = -EINVAL;
			break;
		}
		/* Jobs keep their context until they complete, as the kernel's kref does. */
		ctx->freed = true;
		file->ctxs[id] = NULL;
		if (--ctx->refs == 0)
			free(ctx);
		break;
	case AMDGPU_CTX_OP_QUERY_STATE:
	case AMDGPU_CTX_OP_QUERY_STATE2:
		if (!emu_drm_ctx_lookup(file, id)) {
			err = -EINVAL;
			break;
		}
		memset(&args->out, 0, sizeof(args->out)); /* no resets, no hangs */
		break;
	default:
		err = -EINVAL;
	}
	pthread_mutex_unlock(&file->lock);
	return err;
}

/* amdgpu_bo_list_create: every handle must name a BO of the file (-ENOENT). Under lock. */
static int emu_drm_bo_list_read(struct emu_drm_file *file, const struct drm_amdgpu_bo_list_in *in,
				struct emu_drm_bo_list *list)
{
	size_t esz = in->bo_info_size;
	int err;

	list->n = in->bo_number;
	list->handles = calloc(in->bo_number ? in->bo_number : 1, sizeof(uint32_t));
	if (!list->handles)
		return -ENOMEM;
	if (in->bo_number && esz < sizeof(uint32_t))
		return -EINVAL;
	for (uint32_t i = 0; i < in->bo_number; i++) {
		struct drm_amdgpu_bo_list_entry e = { 0 };

		err = emu_drm_uread(&e, in->bo_info_ptr + (uint64_t)i * esz,
				    esz < sizeof(e) ? esz : sizeof(e));
		if (err)
			return err;
		if (!emu_drm_bo_lookup(file, e.bo_handle))
			return -ENOENT;
		list->handles[i] = e.bo_handle;
	}
	return 0;
}

int emu_drm_bo_list_ioctl(struct emu_drm_file *file, void *arg)
{
	union drm_amdgpu_bo_list *args = arg;
	struct drm_amdgpu_bo_list_in in = args->in;
	struct emu_drm_bo_list *list = NULL;
	uint32_t h = in.list_handle;
	int err = 0;

	pthread_mutex_lock(&file->lock);
	switch (in.operation) {
	case AMDGPU_BO_LIST_OP_CREATE:
	case AMDGPU_BO_LIST_OP_UPDATE:
		if (in.operation == AMDGPU_BO_LIST_OP_UPDATE &&
		    (h >= file->nlists || !file->lists[h])) {
			err = -ENOENT; /* amdgpu_bo_list_get */
			break;
		}
		list = calloc(1, sizeof(*list));
		if (!list) {
			err = -ENOMEM;
			break;
		}
		err = emu_drm_bo_list_read(file, &in, list);
		if (err)
			break;
		if (in.operation == AMDGPU_BO_LIST_OP_CREATE) {
			for (h = 1; h < file->nlists && file->lists[h]; h++)
				;
			if (h >= file->nlists) {
				uint32_t n = file->nlists ? file->nlists * 2 : 16;
				struct emu_drm_bo_list **l = realloc(file->lists, n * sizeof(*l));

				if (!l) {
					err = -ENOMEM;
					break;
				}
				memset(l + file->nlists, 0, (n - file->nlists) * sizeof(*l));
				file->lists = l;
				file->nlists = n;
			}
		} else {
			free(file->lists[h]->handles);
			free(file->lists[h]);
		}
		file->lists[h] = list;
		list = NULL;
		memset(args, 0, sizeof(*args));
		args->out.list_handle = h;
		break;
	case AMDGPU_BO_LIST_OP_DESTROY:
		if (h < file->nlists && file->lists[h]) {
			free(file->lists[h]->handles);
			free(file->lists[h]);
			file->lists[h] = NULL;
		}
		memset(args, 0, sizeof(*args));
		break;
	default:
		err = -EINVAL;
	}
	pthread_mutex_unlock(&file->lock);
	if (list) {
		free(list->handles);
		free(list);
	}
	return err;
}

/*
 * NO_CPU_ACCESS BOs and imports of dma-bufs have no mapping in the process
 * (emu_drm_gem_nomap_io): the engine works on
 * a bounce of each piece it is given, read from the BO when translated and written back after
 * the packet (emu_drm_job_hold), as emu_kfd_sdma.c does for userptrs. A piece is never wider
 * than the packet's own range, so a write-back covers only bytes of that packet.
 */
#define EMU_DRM_BOUNCE_MAX (4u << 20)
#define EMU_DRM_BOUNCES	   (2 * ((1u << 30) / EMU_DRM_BOUNCE_MAX) + 4)

struct emu_drm_bounce {
	uint8_t *buf;
	uint64_t va, len, bo_off;
	struct emu_drm_bo *bo;
	bool dirty;
};

struct emu_drm_job_mem {
	struct emu_drm_file *file;
	struct emu_sdma_ring *ring;
	int fd;	  /* the submission's fd, the way to nomap BOs while it is open */
	bool dry; /* a check at submission: no bytes move, nomap BOs are not read */
	int io_err;
	unsigned int nb;
	struct emu_drm_bounce b[EMU_DRM_BOUNCES];
};

static void *emu_drm_job_translate(void *ctx, uint64_t va, uint64_t len, bool write,
				   uint64_t *avail)
{
	static uint8_t dry_byte;
	struct emu_drm_job_mem *m = ctx;
	struct emu_drm_bounce *b;
	struct emu_drm_bo *bo;
	uint64_t bo_off = 0;
	void *host = emu_drm_vm_translate(m->file, va, len, write, avail, &bo, &bo_off);

	if (host || !bo)
		return host;
	if (m->dry)
		return &dry_byte; /* only checked, never touched */
	for (unsigned int i = 0; i < m->nb; i++) {
		b = &m->b[i];
		if (va >= b->va && va < b->va + b->len) {
			b->dirty |= write;
			if (*avail > b->va + b->len - va)
				*avail = b->va + b->len - va;
			return b->buf + (va - b->va);
		}
	}
	if (m->nb == EMU_DRM_BOUNCES)
		return NULL;
	b = &m->b[m->nb];
	b->len = *avail < EMU_DRM_BOUNCE_MAX ? *avail : EMU_DRM_BOUNCE_MAX;
	b->buf = malloc(b->len);
	if (!b->buf)
		return NULL;
	if (emu_drm_gem_nomap_io(m->file, m->fd, bo, bo_off, b->buf, b->len, false)) {
		free(b->buf);
		return NULL;
	}
	b->va = va;
	b->bo = bo;
	b->bo_off = bo_off;
	b->dirty = write;
	m->nb++;
	*avail = b->len;
	return b->buf;
}

/* After a packet: the bounces written go back to their BOs; all of them are dropped. */
static void emu_drm_job_bounces_flush(struct emu_drm_job_mem *m)
{
	for (unsigned int i = 0; i < m->nb; i++) {
		struct emu_drm_bounce *b = &m->b[i];

		if (b->dirty && !m->io_err)
			m->io_err = emu_drm_gem_nomap_io(m->file, m->fd, b->bo, b->bo_off, b->buf,
							 b->len, true);
		free(b->buf);
	}
	m->nb = 0;
}

static void emu_drm_job_begin(void *ctx)
{
	struct emu_drm_job_mem *m = ctx;

	if (m->ring)
		emu_sdma_ring_clock_start(m->ring);
}

static void emu_drm_job_account(void *ctx, uint64_t bytes)
{
	struct emu_drm_job_mem *m = ctx;

	if (m->ring)
		emu_sdma_ring_throttle(m->ring, bytes);
}

static void emu_drm_job_hold(void *ctx, bool on)
{
	struct emu_drm_job_mem *m = ctx;

	if (on) {
		pthread_rwlock_rdlock(&m->file->vm_lock);
	} else {
		emu_drm_job_bounces_flush(m);
		pthread_rwlock_unlock(&m->file->vm_lock);
	}
}

static void emu_drm_job_free(struct emu_drm_job *job)
{
	for (size_t i = 0; i < job->nibs; i++)
		free(job->ibs[i].dw);
	free(job->ibs);
	free(job->deps);
	free(job);
}

static void emu_drm_job_run(struct emu_sdma_ring_job *rj, struct emu_sdma_ring *ring)
{
	struct emu_drm_job *job = (struct emu_drm_job *)rj;
	struct emu_drm_file *file = job->file;
	struct emu_drm_job_mem *jm = calloc(1, sizeof(*jm));
	struct emu_sdma_mem mem = {
		.translate = emu_drm_job_translate,
		.begin = emu_drm_job_begin,
		.account = emu_drm_job_account,
		.hold = emu_drm_job_hold,
		.ctx = jm,
	};
	struct emu_sdma_status st;

	if (!jm) {
		job->result = -ENOMEM;
		return;
	}
	jm->file = file;
	jm->ring = ring;
	jm->fd = job->fd;

	/* The scheduler runs a job only once its dependencies have signalled. */
	pthread_mutex_lock(&file->lock);
	for (size_t i = 0; i < job->ndeps; i++)
		while (job->deps[i].ctx->dma[job->deps[i].entity].done_seq < job->deps[i].seq)
			pthread_cond_wait(&file->cond, &file->lock);
	pthread_mutex_unlock(&file->lock);

	/* The VM is held packet by packet (emu_drm_job_hold): VA changes and GEM_CLOSE wait for
	 * the packet in progress, never for a whole IB or a poll. */
	for (size_t i = 0; i < job->nibs && !job->result; i++) {
		if (emu_sdma_exec(emu_drm_sdma_gen(file), job->ibs[i].dw, job->ibs[i].ndw, &mem, 0,
				  &st)) {
			emu_drm_log("GPU %u SDMA%u: ctx %u ring %u seq %" PRIu64
				    " IB %zu at 0x%" PRIx64 " failed: %s",
				    file->gpu, ring ? ring->index : 0, job->ctx->id, job->entity,
				    job->seq, i, job->ibs[i].va, st.reason);
			job->result = st.err;
		}
		if (!job->result && jm->io_err) {
			emu_drm_log("GPU %u SDMA%u: ctx %u ring %u seq %" PRIu64
				    " IB %zu: a BO without a mapping could not be written: %s",
				    file->gpu, ring ? ring->index : 0, job->ctx->id, job->entity,
				    job->seq, i, strerror(-jm->io_err));
			job->result = jm->io_err;
		}
	}
	free(jm);
	if (job->user_fence) {
		struct emu_drm_bo *bo;
		uint64_t seq = job->seq;

		/* GEM_CLOSE waits for the VM lock, so the BO stays while it is held. */
		pthread_rwlock_rdlock(&file->vm_lock);
		/* The kernel's fence write after the IBs (amdgpu_fence_emit with the user
		 * fence address): the 64-bit sequence number, after all of the job's data. */
		pthread_mutex_lock(&file->lock);
		bo = emu_drm_bo_lookup(file, job->uf_handle);
		if (bo && bo->host)
			__atomic_store_n((uint64_t *)(bo->host + job->uf_offset), seq,
					 __ATOMIC_RELEASE);
		pthread_mutex_unlock(&file->lock);
		if (bo && (bo->nomap || bo->view_io))
			emu_drm_gem_nomap_io(file, job->fd, bo, job->uf_offset, &seq, sizeof(seq),
					     true);
		pthread_rwlock_unlock(&file->vm_lock);
	}
}

static void emu_drm_job_complete(struct emu_sdma_ring_job *rj)
{
	struct emu_drm_job *job = (struct emu_drm_job *)rj;
	struct emu_drm_file *file = job->file;
	struct emu_drm_entity *e = &job->ctx->dma[job->entity];

	pthread_mutex_lock(&file->lock);
	e->errors[job->seq % EMU_DRM_SCHED_JOBS] = job->result;
	e->done_seq = job->seq;
	e->pending--;
	file->jobs_in_flight--;
	for (size_t i = 0; i < job->ndeps; i++)
		emu_drm_ctx_put(file, job->deps[i].ctx);
	emu_drm_ctx_put(file, job->ctx);
	pthread_cond_broadcast(&file->cond);
	pthread_mutex_unlock(&file->lock);
	emu_drm_job_free(job);
	emu_drm_file_put(file);
}

/* Copy IB @ib out of the file's VM into @dw. Under the VM read lock. */
static int emu_drm_ib_fetch(struct emu_drm_file *file, uint64_t va, size_t ndw, uint32_t *dw)
{
	uint64_t off = 0, len = (uint64_t)ndw * 4;

	while (off < len) {
		uint64_t avail = 0, bo_off = 0;
		struct emu_drm_bo *bo;
		const void *src = emu_drm_vm_translate(file, va + off, len - off, false, &avail,
						       &bo, &bo_off);

		if (!src && bo) {
			if (emu_drm_gem_nomap_io(file, emu_drm_current_fd(), bo, bo_off,
						 (uint8_t *)dw + off, avail, false))
				return -EFAULT;
			off += avail;
			continue;
		}
		if (!src) {
			emu_drm_log("CS: IB at 0x%" PRIx64 " (+0x%" PRIx64 ") is not mapped", va,
				    off);
			return -EFAULT;
		}
		memcpy((uint8_t *)dw + off, src, avail);
		off += avail;
	}
	return 0;
}

struct emu_drm_cs_parse {
	struct drm_amdgpu_cs_chunk_ib ib[16];
	size_t nibs;
	struct drm_amdgpu_cs_chunk_dep *deps;
	size_t ndeps;
	bool user_fence;
	struct drm_amdgpu_cs_chunk_fence fence;
	uint32_t *bo_handles; /* AMDGPU_CHUNK_ID_BO_HANDLES */
	size_t nbo_handles;
};

/* amdgpu_cs_pass1: read the chunks. */
static int emu_drm_cs_pass1(const union drm_amdgpu_cs *cs, struct emu_drm_cs_parse *p)
{
	uint32_t n = cs->in.num_chunks;
	uint64_t *ptrs;
	int err = 0;

	if (n == 0)
		return -EINVAL;
	ptrs = calloc(n, sizeof(*ptrs));
	if (!ptrs)
		return -ENOMEM;
	err = emu_drm_uread(ptrs, cs->in.chunks, (size_t)n * sizeof(*ptrs));
	for (uint32_t i = 0; !err && i < n; i++) {
		struct drm_amdgpu_cs_chunk chunk;
		size_t size;

		err = emu_drm_uread(&chunk, ptrs[i], sizeof(chunk));
		if (err)
			break;
		size = (size_t)chunk.length_dw * 4;
		switch (chunk.chunk_id) {
		case AMDGPU_CHUNK_ID_IB:
			if (size < sizeof(struct drm_amdgpu_cs_chunk_ib)) {
				err = -EINVAL;
				break;
			}
			if (p->nibs == sizeof(p->ib) / sizeof(p->ib[0])) {
				emu_drm_log("CS: more than %zu IBs in one submission",
					    sizeof(p->ib) / sizeof(p->ib[0]));
				err = -EINVAL;
				break;
			}
			err = emu_drm_uread(&p->ib[p->nibs++], chunk.chunk_data,
					    sizeof(struct drm_amdgpu_cs_chunk_ib));
			break;
		case AMDGPU_CHUNK_ID_FENCE:
			if (size < sizeof(struct drm_amdgpu_cs_chunk_fence)) {
				err = -EINVAL;
				break;
			}
			p->user_fence = true;
			err = emu_drm_uread(&p->fence, chunk.chunk_data, sizeof(p->fence));
			break;
		case AMDGPU_CHUNK_ID_DEPENDENCIES:
		case AMDGPU_CHUNK_ID_SCHEDULED_DEPENDENCIES: {
			size_t k = size / sizeof(struct drm_amdgpu_cs_chunk_dep);
			struct drm_amdgpu_cs_chunk_dep *d;

			d = realloc(p->deps, (p->ndeps + k + 1) * sizeof(*d));
			if (!d) {
				err = -ENOMEM;
				break;
			}
			p->deps = d;
			err = emu_drm_uread(d + p->ndeps, chunk.chunk_data, k * sizeof(*d));
			p->ndeps += k;
			break;
		}
		case AMDGPU_CHUNK_ID_BO_HANDLES: {
			struct drm_amdgpu_bo_list_in in;

			if (p->bo_handles || size < sizeof(in)) {
				err = -EINVAL;
				break;
			}
			err = emu_drm_uread(&in, chunk.chunk_data, sizeof(in));
			if (err)
				break;
			p->nbo_handles = in.bo_number;
			p->bo_handles = calloc(in.bo_number + 1, sizeof(uint32_t));
			if (!p->bo_handles) {
				err = -ENOMEM;
				break;
			}
			if (in.bo_number && in.bo_info_size < sizeof(uint32_t)) {
				err = -EINVAL;
				break;
			}
			for (uint32_t b = 0; !err && b < in.bo_number; b++)
				err = emu_drm_uread(&p->bo_handles[b],
						    in.bo_info_ptr + (uint64_t)b * in.bo_info_size,
						    sizeof(uint32_t));
			break;
		}
		case AMDGPU_CHUNK_ID_SYNCOBJ_IN:
		case AMDGPU_CHUNK_ID_SYNCOBJ_OUT:
		case AMDGPU_CHUNK_ID_SYNCOBJ_TIMELINE_WAIT:
		case AMDGPU_CHUNK_ID_SYNCOBJ_TIMELINE_SIGNAL:
			emu_drm_log("CS: syncobj chunks are not emulated");
			err = -EINVAL;
			break;
		default:
			err = -EINVAL;
		}
	}
	free(ptrs);
	/* amdgpu_cs_pass1: a submission without an IB is -EINVAL. */
	if (!err && p->nibs == 0)
		err = -EINVAL;
	return err;
}

static void emu_drm_cs_parse_free(struct emu_drm_cs_parse *p)
{
	free(p->deps);
	free(p->bo_handles);
}

/* Under file->lock: pick the engine for an entity that is idle (drm_sched_pick_best). */
static unsigned int emu_drm_pick_ring(struct emu_drm_dev *dev)
{
	unsigned int best = 0, best_load = ~0u;

	for (unsigned int r = 0; r < dev->num_rings; r++) {
		unsigned int load = emu_sdma_ring_load(&dev->rings[r]);

		if (load < best_load) {
			best = r;
			best_load = load;
		}
	}
	return best;
}

int emu_drm_cs(struct emu_drm_file *file, void *arg)
{
	union drm_amdgpu_cs *cs = arg;
	struct emu_drm_cs_parse p = { 0 };
	struct emu_drm_job *job = NULL;
	struct emu_drm_ctx *ctx;
	struct emu_drm_entity *e;
	struct emu_sdma_ring *ring;
	uint32_t ctx_id = cs->in.ctx_id, ip, ring_nr;
	int err;

	pthread_mutex_lock(&file->lock);
	ctx = emu_drm_ctx_lookup(file, ctx_id);
	pthread_mutex_unlock(&file->lock);
	if (!ctx)
		return -EINVAL; /* amdgpu_cs_parser_init */
	/* The DRM offsets of NO_CPU_ACCESS BOs as they are now (a restore moves them). */
	pthread_mutex_lock(&file->lock);
	err = emu_drm_gem_nomap_sync(file, emu_drm_current_fd());
	pthread_mutex_unlock(&file->lock);
	if (!err)
		err = emu_drm_cs_pass1(cs, &p);
	if (err)
		goto out;

	/* amdgpu_cs_p1_ib: every IB names a valid entity; all of them the same one. */
	ip = p.ib[0].ip_type;
	ring_nr = p.ib[0].ring;
	for (size_t i = 0; i < p.nibs; i++) {
		err = emu_drm_entity_check(p.ib[i].ip_type, p.ib[i].ip_instance, p.ib[i].ring);
		if (err)
			goto out;
		if (p.ib[i].ip_type != ip || p.ib[i].ring != ring_nr) {
			err = -EINVAL;
			goto out;
		}
	}
	if (ip != AMDGPU_HW_IP_DMA) {
		emu_drm_log("CS: only DMA (SDMA) IBs are executed by the emulator, not IP %u", ip);
		err = -EINVAL;
		goto out;
	}

	job = calloc(1, sizeof(*job));
	if (!job || !(job->ibs = calloc(p.nibs, sizeof(*job->ibs))) ||
	    !(job->deps = calloc(p.ndeps + 1, sizeof(*job->deps)))) {
		err = -ENOMEM;
		goto out;
	}
	job->ring_job.run = emu_drm_job_run;
	job->ring_job.complete = emu_drm_job_complete;
	job->file = file;
	job->fd = emu_drm_current_fd();
	job->entity = ring_nr;
	job->nibs = p.nibs;

	/* Fetch and check every IB against the VM as it is now. */
	pthread_rwlock_rdlock(&file->vm_lock);
	for (size_t i = 0; i < p.nibs; i++) {
		struct emu_drm_job_mem jm = { .file = file, .fd = -1, .dry = true };
		struct emu_sdma_mem mem = { .translate = emu_drm_job_translate, .ctx = &jm };
		struct emu_sdma_status st;
		size_t ndw = p.ib[i].ib_bytes / 4;

		if (p.ib[i].ib_bytes == 0 || p.ib[i].ib_bytes % 4 || ndw > EMU_DRM_IB_MAX_DW ||
		    p.ib[i].va_start % EMU_DRM_IB_ALIGN) {
			emu_drm_log("CS: IB at 0x%" PRIx64 " of %u bytes: SDMA needs a 32-byte "
				    "aligned IB of 1 to 2^20-1 dwords",
				    (uint64_t)p.ib[i].va_start, p.ib[i].ib_bytes);
			err = -EINVAL;
			break;
		}
		job->ibs[i].va = p.ib[i].va_start;
		job->ibs[i].ndw = ndw;
		job->ibs[i].dw = malloc(ndw * 4);
		if (!job->ibs[i].dw) {
			err = -ENOMEM;
			break;
		}
		err = emu_drm_ib_fetch(file, p.ib[i].va_start, ndw, job->ibs[i].dw);
		if (err)
			break;
		err = emu_sdma_exec(emu_drm_sdma_gen(file), job->ibs[i].dw, ndw, &mem,
				    EMU_SDMA_EXEC_DRY_RUN, &st);
		if (err) {
			emu_drm_log("CS: GPU %u IB %zu at 0x%" PRIx64 " rejected: %s", file->gpu, i,
				    (uint64_t)p.ib[i].va_start, st.reason);
			break;
		}
	}
	pthread_rwlock_unlock(&file->vm_lock);
	if (err)
		goto out;

	pthread_mutex_lock(&file->lock);
	ctx = emu_drm_ctx_lookup(file, ctx_id);
	if (!ctx) {
		err = -EINVAL;
		goto unlock;
	}
	/* amdgpu_cs_parser_bos: a BO list handle, or a BO_HANDLES chunk, not both. */
	if (cs->in.bo_list_handle) {
		if (p.bo_handles) {
			err = -EINVAL;
			goto unlock;
		}
		if (cs->in.bo_list_handle >= file->nlists || !file->lists[cs->in.bo_list_handle]) {
			err = -ENOENT;
			goto unlock;
		}
	}
	for (size_t i = 0; i < p.nbo_handles; i++) {
		if (!emu_drm_bo_lookup(file, p.bo_handles[i])) {
			err = -ENOENT;
			goto unlock;
		}
	}
	/* amdgpu_cs_p1_user_fence: a GEM BO of one page, room for 8 bytes at the offset. */
	if (p.user_fence) {
		struct emu_drm_bo *bo = emu_drm_bo_lookup(file, p.fence.handle);

		if (!bo || bo->kind == EMU_DRM_BO_USERPTR || bo->size != EMU_DRM_PAGE_SIZE ||
		    (uint64_t)p.fence.offset + 8 > EMU_DRM_PAGE_SIZE || (p.fence.offset & 7)) {
			err = -EINVAL;
			goto unlock;
		}
		job->user_fence = true;
		job->uf_handle = p.fence.handle;
		job->uf_offset = p.fence.offset;
	}
	/* amdgpu_cs_process_fence_dep / amdgpu_ctx_get_fence. */
	for (size_t i = 0; i < p.ndeps; i++) {
		const struct drm_amdgpu_cs_chunk_dep *d = &p.deps[i];
		struct emu_drm_ctx *dctx = emu_drm_ctx_lookup(file, d->ctx_id);
		uint64_t seq = d->handle;
		struct emu_drm_entity *de;

		if (!dctx) {
			err = -EINVAL;
			goto unlock;
		}
		err = emu_drm_entity_check(d->ip_type, d->ip_instance, d->ring);
		if (err)
			goto unlock;
		if (d->ip_type != AMDGPU_HW_IP_DMA) {
			/* No jobs on other IPs: sequence 1 is the next, 0 the signalled past. */
			if (seq != 0 && seq != ~0ull) {
				err = -EINVAL;
				goto unlock;
			}
			continue;
		}
		de = &dctx->dma[d->ring];
		if (seq == ~0ull)
			seq = de->next_seq - 1;
		if (seq >= de->next_seq) {
			err = -EINVAL;
			goto unlock;
		}
		if (seq <= de->done_seq)
			continue;
		job->deps[job->ndeps].ctx = dctx;
		job->deps[job->ndeps].entity = d->ring;
		job->deps[job->ndeps].seq = seq;
		job->ndeps++;
		dctx->refs++;
	}

	e = &ctx->dma[ring_nr];
	/* amdgpu_ctx_wait_prev_fence: at most amdgpu_sched_jobs jobs in flight per entity. */
	ctx->refs++;
	while (e->next_seq - 1 - e->done_seq >= EMU_DRM_SCHED_JOBS)
		pthread_cond_wait(&file->cond, &file->lock);
	job->ctx = ctx;
	job->seq = e->next_seq++;
	if (e->pending == 0)
		e->ring = emu_drm_pick_ring(file->dev);
	e->pending++;
	file->jobs_in_flight++;
	ring = &file->dev->rings[e->ring];
	pthread_mutex_unlock(&file->lock);

	emu_drm_file_ref(file);
	memset(cs, 0, sizeof(*cs));
	cs->out.handle = job->seq;
	if (emu_sdma_ring_push(ring, &job->ring_job)) {
		/* No thread: run it here, so the fence still signals. */
		emu_drm_job_run(&job->ring_job, NULL);
		emu_drm_job_complete(&job->ring_job);
	}
	job = NULL;
	emu_drm_cs_parse_free(&p);
	return 0;
unlock:
	for (size_t i = 0; i < job->ndeps; i++)
		emu_drm_ctx_put(file, job->deps[i].ctx);
	pthread_mutex_unlock(&file->lock);
out:
	if (job)
		emu_drm_job_free(job);
	emu_drm_cs_parse_free(&p);
	return err;
}

/* amdgpu_gem_timeout: an absolute CLOCK_MONOTONIC deadline; negative as int64: forever. */
static bool emu_drm_deadline(uint64_t timeout_ns, struct timespec *ts)
{
	if ((int64_t)timeout_ns < 0)
		return false;
	ts->tv_sec = (time_t)(timeout_ns / 1000000000ull);
	ts->tv_nsec = (long)(timeout_ns % 1000000000ull);
	return true;
}

/* Wait on the file's completions until @deadline; false once it has passed. Under lock. */
static bool emu_drm_wait_step(struct emu_drm_file *file, bool timed, const struct timespec *ts)
{
	if (!timed) {
		pthread_cond_wait(&file->cond, &file->lock);
		return true;
	}
	return pthread_cond_timedwait(&file->cond, &file->lock, ts) != ETIMEDOUT;
}

/*
 * Resolve a fence (amdgpu_ctx_get_fence) under file->lock: -EINVAL for an unknown context,
 * entity or a sequence not yet submitted; else 0 with *@e and *@seq (*@e NULL: signalled).
 */
static int emu_drm_fence_get(struct emu_drm_file *file, uint32_t ctx_id, uint32_t ip,
			     uint32_t instance, uint32_t ring, uint64_t seq,
			     struct emu_drm_entity **e, uint64_t *out_seq)
{
	struct emu_drm_ctx *ctx = emu_drm_ctx_lookup(file, ctx_id);
	struct emu_drm_entity *ent;
	int err;

	*e = NULL;
	if (!ctx)
		return -EINVAL;
	err = emu_drm_entity_check(ip, instance, ring);
	if (err)
		return err;
	if (ip != AMDGPU_HW_IP_DMA)
		return seq == 0 ? 0 : -EINVAL;
	ent = &ctx->dma[ring];
	if (seq == ~0ull)
		seq = ent->next_seq - 1;
	if (seq >= ent->next_seq)
		return -EINVAL;
	/* Older than the fence window: long signalled (the kernel returns no fence). */
	if (seq + EMU_DRM_SCHED_JOBS < ent->next_seq || seq == 0)
		return 0;
	*e = ent;
	*out_seq = seq;
	return 0;
}

static void emu_drm_reap(struct emu_drm_file *file)
{
	for (unsigned int r = 0; r < file->dev->num_rings; r++)
		emu_sdma_ring_reap(&file->dev->rings[r]);
}

int emu_drm_wait_cs(struct emu_drm_file *file, void *arg)
{
	union drm_amdgpu_wait_cs *w = arg;
	struct drm_amdgpu_wait_cs_in in = w->in;
	struct emu_drm_entity *e;
	struct timespec ts;
	bool timed = emu_drm_deadline(in.timeout, &ts), busy = false;
	uint64_t seq = 0;
	int err;

	pthread_mutex_lock(&file->lock);
	err = emu_drm_fence_get(file, in.ctx_id, in.ip_type, in.ip_instance, in.ring, in.handle, &e,
				&seq);
	if (!err && e) {
		while (e->done_seq < seq) {
			if (!emu_drm_wait_step(file, timed, &ts) && e->done_seq < seq) {
				busy = true;
				break;
			}
		}
		/* amdgpu_cs_wait_ioctl: a signalled fence with an error fails the ioctl. */
		if (!busy && seq + EMU_DRM_SCHED_JOBS > e->done_seq)
			err = e->errors[seq % EMU_DRM_SCHED_JOBS];
	}
	pthread_mutex_unlock(&file->lock);
	emu_drm_reap(file);
	if (err)
		return err;
	memset(w, 0, sizeof(*w));
	w->out.status = busy; /* 1: still busy when the timeout expired */
	return 0;
}

int emu_drm_wait_fences(struct emu_drm_file *file, void *arg)
{
	union drm_amdgpu_wait_fences *w = arg;
	struct drm_amdgpu_wait_fences_in in = w->in;
	struct drm_amdgpu_fence *f;
	struct timespec ts;
	bool timed = emu_drm_deadline(in.timeout_ns, &ts), all_done = true, any = false;
	uint32_t first = 0;
	int err = 0;

	if (in.fence_count == 0)
		return -EINVAL;
	f = calloc(in.fence_count, sizeof(*f));
	if (!f)
		return -ENOMEM;
	err = emu_drm_uread(f, in.fences, (size_t)in.fence_count * sizeof(*f));
	if (err)
		goto out_free;

	pthread_mutex_lock(&file->lock);
	for (bool expired = false;;) {
		all_done = true;
		any = false;
		err = 0;
		for (uint32_t i = 0; i < in.fence_count; i++) {
			struct emu_drm_entity *e;
			uint64_t seq = 0;
			bool done;
			int ferr;

			err = emu_drm_fence_get(file, f[i].ctx_id, f[i].ip_type, f[i].ip_instance,
						f[i].ring, f[i].seq_no, &e, &seq);
			if (err)
				goto out_unlock;
			done = !e || e->done_seq >= seq;
			ferr = done && e ? e->errors[seq % EMU_DRM_SCHED_JOBS] : 0;
			/* amdgpu_cs_wait_all_fences: a fence error fails the wait. */
			if (ferr && in.wait_all) {
				err = ferr;
				goto out_unlock;
			}
			/* amdgpu_cs_wait_any_fence: the first signalled fence's error. */
			if (done && !any) {
				any = true;
				first = i;
				err = ferr;
			}
			all_done &= done;
		}
		if ((in.wait_all ? all_done : any) || expired)
			break;
		if (!emu_drm_wait_step(file, timed, &ts))
			expired = true; /* look once more, then report */
	}
out_unlock:
	pthread_mutex_unlock(&file->lock);
	emu_drm_reap(file);
	if (!err) {
		memset(w, 0, sizeof(*w));
		/* amdgpu_cs_wait_all_fences / _any_fence: status 1 when the wait succeeded. */
		w->out.status = in.wait_all ? all_done : any;
		w->out.first_signaled = first;
	}
out_free:
	free(f);
	return err;
}

int emu_drm_gem_wait_idle(struct emu_drm_file *file, void *arg)
{
	union drm_amdgpu_gem_wait_idle *w = arg;
	struct timespec ts;
	bool timed = emu_drm_deadline(w->in.timeout, &ts), busy = false;
	int err = 0;

	pthread_mutex_lock(&file->lock);
	if (!emu_drm_bo_lookup(file, w->in.handle)) {
		err = -ENOENT;
	} else {
		/* Conservative: idle when no job of the file is in flight. */
		while (file->jobs_in_flight) {
			if (!emu_drm_wait_step(file, timed, &ts) && file->jobs_in_flight) {
				busy = true;
				break;
			}
		}
	}
	pthread_mutex_unlock(&file->lock);
	emu_drm_reap(file);
	if (err)
		return err;
	memset(w, 0, sizeof(*w));
	w->out.status = busy;
	return 0;
}

void emu_drm_cs_file_fini(struct emu_drm_file *file)
{
	/* Jobs hold file references, so none is in flight here. */
	for (uint32_t i = 0; i < file->nctxs; i++)
		free(file->ctxs[i]);
	for (uint32_t i = 0; i < file->nlists; i++) {
		if (file->lists[i]) {
			free(file->lists[i]->handles);
			free(file->lists[i]);
		}
	}
	free(file->ctxs);
	free(file->lists);
	file->ctxs = NULL;
	file->lists = NULL;
}
