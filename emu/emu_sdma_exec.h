/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The emulated SDMA packet engine (SDMA 4.0 to 6.x): executes an indirect buffer (IB) of dwords
 * packet by packet. Pure: it knows nothing of DRM or KFD; the caller translates GPU virtual
 * addresses to host memory through a callback (the render-node VM for amdgpu CS, a KFD process VM
 * for SDMA user queues). A packet it does not understand, a reserved bit it cannot honour, an
 * address that does not translate or a range that runs off its mapping stops the IB with a
 * negative errno, the index of the failing packet and a reason; nothing is copied silently
 * wrong. Packets before the failing one have executed (as on hardware).
 */
#ifndef VRAMSTREAM_EMU_SDMA_EXEC_H
#define VRAMSTREAM_EMU_SDMA_EXEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct emu_sdma_mem {
	/*
	 * Host address of GPU VA @va, valid for writing when @write. *@avail receives how many
	 * bytes from @va on are contiguous in host memory (at most @len, at least 1). Returns
	 * NULL when @va is not mapped or not accessible that way; the engine then fails with
	 * -EFAULT. A range that spans two adjacent mappings is asked for piece by piece.
	 */
	void *(*translate)(void *ctx, uint64_t va, uint64_t len, bool write, uint64_t *avail);
	/* Optional: called before each packet (outside hold()), and after each packet that
	 * moved @bytes (outside hold()): together they time a bandwidth cap. */
	void (*begin)(void *ctx);
	void (*account)(void *ctx, uint64_t bytes);
	/* Optional: hold(ctx, true) before a packet touches memory, hold(ctx, false) after,
	 * so the address space may change between packets (and between the retries of a
	 * POLL_REGMEM) but not under a copy. translate() is only called while held. */
	void (*hold)(void *ctx, bool on);
	/* Optional: a TRAP packet was executed with this int_context. */
	void (*trap)(void *ctx, uint32_t int_context);
	void *ctx;
};

/*
 * The packet rules of one SDMA IP version (emu_sdma_gen_find; sources in emu_sdma_exec.c and
 * emu/README.md). Everything not named here is the same on every generation emulated.
 */
struct emu_sdma_gen {
	uint32_t ip_first, ip_last; /* IP versions, major << 16 | minor << 8 | revision */
	const char *name;	    /* "SDMA 4.4" */
	uint32_t copy_count_bits;   /* COPY_LINEAR count (bytes - 1) width: 22 or 30 */
	uint32_t fill_count_bits;   /* CONST_FILL count (bytes - 1) width: 22 or 30 */
	bool gcr;		    /* has GCR_REQ (opcode 17), the gfx10+ cache request */
};

/* The rules for SDMA IP version @ip, or NULL for one before 4.0 or from 7.0 (other packets). */
const struct emu_sdma_gen *emu_sdma_gen_find(uint32_t ip);

/* Do not touch memory: decode and check every packet and translate every address only. */
#define EMU_SDMA_EXEC_DRY_RUN (1u << 0)
/*
 * A POLL_REGMEM whose condition does not hold yet ends the run with -EAGAIN at the poll's
 * header (packet_dw) instead of waiting: the caller retries from there later, without the
 * locks it holds, and owns the time limit (EMU_SDMA_POLL_TIMEOUT_NS). Without this flag the
 * engine waits in place, as a render-node engine thread may.
 */
#define EMU_SDMA_EXEC_POLL_ONCE (1u << 1)

/* How long a POLL_REGMEM may wait in total before the IB fails. Hardware retries
 * retry_count times (0xfff is what the kernel's sdma_v4_0_wait_reg_mem asks for) at a
 * hardware-defined interval; the emulator bounds the wait in wall time instead. */
#define EMU_SDMA_POLL_TIMEOUT_NS (10ull * 1000 * 1000 * 1000)

struct emu_sdma_status {
	int err;	    /* 0 or -errno of the first failure */
	uint32_t packet_dw; /* dword index of the failing packet's header */
	uint32_t packets;   /* packets executed */
	uint64_t bytes;	    /* bytes written by COPY, WRITE and FILL packets */
	char reason[160];   /* human-readable cause, "" on success */
};

/*
 * Execute @ndw dwords at @ib by the rules of @gen. Returns 0 or the negative errno also stored in
 * @st->err: -EINVAL for a malformed or unsupported packet (also one cut off by the end of the IB),
 * -EFAULT for an address that does not translate (unmapped, read-only, non-canonical),
 * -ETIMEDOUT for a POLL_REGMEM whose condition never held within its retries,
 * -EAGAIN (only with EMU_SDMA_EXEC_POLL_ONCE) for a POLL_REGMEM not met yet: the packets before
 * it have executed, @st->packet_dw is the poll's header and @st->reason says what it waits for.
 */
int emu_sdma_exec(const struct emu_sdma_gen *gen, const uint32_t *ib, size_t ndw,
		  const struct emu_sdma_mem *mem, unsigned int flags, struct emu_sdma_status *st);

#endif
