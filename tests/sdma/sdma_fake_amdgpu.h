/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A test double of the libdrm_amdgpu calls that sdma_engine.c makes, linked
 * instead of libdrm_amdgpu into the engine's unit test. It keeps BOs in host
 * memory, checks submissions the way the kernel does (BO list membership,
 * IB alignment and padding, ring mask), and executes an IB's SDMA packets
 * only when a fence query reaches it, reading the IB at that time, so a
 * ticket that does not cover its bytes, or an IB reused too early, shows up
 * as wrong data. It is not the emulator and proves nothing about the kernel
 * interface beyond libdrm's documented API.
 */
#ifndef VRAMSTREAM_SDMA_FAKE_AMDGPU_H
#define VRAMSTREAM_SDMA_FAKE_AMDGPU_H

#include <stdint.h>

struct fake_amdgpu_device_desc {
	uint32_t hw_ip_major, hw_ip_minor; /* drm_amdgpu_info_hw_ip.hw_ip_version_* */
	uint32_t discovery_version;	   /* its ip_discovery_version word */
	uint32_t available_rings;
	uint32_t instances;	 /* AMDGPU_INFO_HW_IP_COUNT */
	uint32_t count_bits;	 /* COPY_LINEAR COUNT width the device decodes */
	uint64_t copy_max_bytes; /* larger packets are a violation */
};

struct fake_amdgpu_stats {
	uint64_t jobs; /* IBs executed */
	uint64_t packets_copy, packets_fill;
	uint64_t max_copy_packet; /* largest COPY_LINEAR seen */
	unsigned int max_pending; /* most jobs queued on one ring at once */
	unsigned int violations;  /* submissions or packets the kernel/HW would reject */
	char last_violation[200];
};

/* Describes the device the next amdgpu_device_initialize() returns. */
void fake_amdgpu_set_device(const struct fake_amdgpu_device_desc *desc);
/* The next job executed fails with err (negative errno). */
void fake_amdgpu_fail_next_job(int err);
void fake_amdgpu_get_stats(struct fake_amdgpu_stats *stats);
void fake_amdgpu_reset_stats(void);

#endif
