/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The sysfs files libdrm reads about a render node, written into the emulator's fake root.
 * libdrm 2.4.114 xf86drm.c reads, for a node with rdev 226:<minor>:
 *   drmGetNodeTypeFromFd / drmNodeIsDRM:  stat /sys/dev/char/226:<minor>/device/drm
 *   drmGetPrimaryDeviceNameFromFd (amdgpu_device_initialize's fd_compare, once a second
 *     device is open): readdir of that drm/ folder, the entry named card*
 *   drmParseSubsystemType:  readlink /sys/dev/char/226:<minor>/device/subsystem ("/pci")
 *   drmParsePciBusInfo:  PCI_SLOT_NAME in device/uevent
 *   drmParsePciDeviceInfo:  device/{revision,vendor,device,subsystem_vendor,subsystem_device},
 *     falling back to device/config
 * The layout mirrors the kernel's: /sys/dev/char/226:<minor> links to the drm class device
 * under the PCI function's folder, whose "device" links back to the function. The function's
 * folder is /sys/devices/emu/<slot> (the shim redirects /sys/devices/emu) rather than under
 * a pci<domain>:<bus> root, so paths realpath() returns stay inside the emulated tree.
 */
#include "emu_drm.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* PCI class of MI100/MI200 (Display controller, "other"): 0x038000. */
#define EMU_DRM_PCI_CLASS	  0x038000u
#define EMU_DRM_PCI_REVISION	  0x01u
#define EMU_DRM_PCI_SUBSYS_DEVICE 0x0c34u

static int emu_drm_mkdirs(const char *path)
{
	char buf[PATH_MAX];
	size_t len = strlen(path);

	if (len >= sizeof(buf))
		return -ENAMETOOLONG;
	memcpy(buf, path, len + 1);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, 0755) && errno != EEXIST)
		return -errno;
	return 0;
}

static int emu_drm_write_file(const char *dir, const char *name, const void *data, size_t len)
{
	char path[PATH_MAX];
	int fd, err = 0;

	if (snprintf(path, sizeof(path), "%s/%s", dir, name) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0444);
	if (fd < 0)
		return -errno;
	if (write(fd, data, len) != (ssize_t)len)
		err = -EIO;
	if (close(fd) && !err)
		err = -errno;
	return err;
}

static int emu_drm_write_str(const char *dir, const char *name, const char *s)
{
	return emu_drm_write_file(dir, name, s, strlen(s));
}

static int emu_drm_symlink(const char *target, const char *dir, const char *name)
{
	char path[PATH_MAX];

	if (snprintf(path, sizeof(path), "%s/%s", dir, name) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	if (unlink(path) && errno != ENOENT)
		return -errno;
	return symlink(target, path) ? -errno : 0;
}

/* The PCI function's folder: the files drmParsePciBusInfo/DeviceInfo read. */
static int emu_drm_pci_files(const char *dir, const struct emu_gpu_config *g, const char *slot)
{
	uint8_t config[256] = { 0 };
	char buf[512];
	int err;

	snprintf(buf, sizeof(buf),
		 "DRIVER=amdgpu\nPCI_CLASS=%X\nPCI_ID=%04X:%04X\nPCI_SUBSYS_ID=%04X:%04X\n"
		 "PCI_SLOT_NAME=%s\nMODALIAS=pci:v%08Xd%08Xsv%08Xsd%08Xbc%02Xsc%02Xi%02X\n",
		 EMU_DRM_PCI_CLASS, g->pci_vendor_id, g->pci_device_id, g->pci_vendor_id,
		 EMU_DRM_PCI_SUBSYS_DEVICE, slot, g->pci_vendor_id, g->pci_device_id,
		 g->pci_vendor_id, EMU_DRM_PCI_SUBSYS_DEVICE, EMU_DRM_PCI_CLASS >> 16,
		 (EMU_DRM_PCI_CLASS >> 8) & 0xff, EMU_DRM_PCI_CLASS & 0xff);
	err = emu_drm_write_str(dir, "uevent", buf);
	snprintf(buf, sizeof(buf), "0x%04x\n", g->pci_vendor_id);
	if (!err)
		err = emu_drm_write_str(dir, "vendor", buf);
	if (!err)
		err = emu_drm_write_str(dir, "subsystem_vendor", buf);
	snprintf(buf, sizeof(buf), "0x%04x\n", g->pci_device_id);
	if (!err)
		err = emu_drm_write_str(dir, "device", buf);
	snprintf(buf, sizeof(buf), "0x%04x\n", EMU_DRM_PCI_SUBSYS_DEVICE);
	if (!err)
		err = emu_drm_write_str(dir, "subsystem_device", buf);
	snprintf(buf, sizeof(buf), "0x%02x\n", EMU_DRM_PCI_REVISION);
	if (!err)
		err = emu_drm_write_str(dir, "revision", buf);
	snprintf(buf, sizeof(buf), "0x%06x\n", EMU_DRM_PCI_CLASS);
	if (!err)
		err = emu_drm_write_str(dir, "class", buf);
	/* PCI configuration header (type 0), little endian. */
	config[0] = g->pci_vendor_id & 0xff;
	config[1] = (g->pci_vendor_id >> 8) & 0xff;
	config[2] = g->pci_device_id & 0xff;
	config[3] = (g->pci_device_id >> 8) & 0xff;
	config[8] = EMU_DRM_PCI_REVISION;
	config[9] = EMU_DRM_PCI_CLASS & 0xff;
	config[10] = (EMU_DRM_PCI_CLASS >> 8) & 0xff;
	config[11] = (EMU_DRM_PCI_CLASS >> 16) & 0xff;
	config[44] = config[0];
	config[45] = config[1];
	config[46] = EMU_DRM_PCI_SUBSYS_DEVICE & 0xff;
	config[47] = (EMU_DRM_PCI_SUBSYS_DEVICE >> 8) & 0xff;
	if (!err)
		err = emu_drm_write_file(dir, "config", config, sizeof(config));
	/* <function>/subsystem -> /sys/bus/pci */
	if (!err)
		err = emu_drm_symlink("../../../bus/pci", dir, "subsystem");
	return err;
}

/* A drm class device (card<i> or renderD<minor>) under the function's drm/ folder. */
static int emu_drm_class_dev(const char *pcidir, const char *root, const char *rel_pci,
			     const char *name, unsigned int minor)
{
	char dir[PATH_MAX], buf[256], link[PATH_MAX];
	int err;

	snprintf(dir, sizeof(dir), "%s/drm/%s", pcidir, name);
	err = emu_drm_mkdirs(dir);
	snprintf(buf, sizeof(buf), "%u:%u\n", EMU_DRM_MAJOR, minor);
	if (!err)
		err = emu_drm_write_str(dir, "dev", buf);
	snprintf(buf, sizeof(buf), "MAJOR=%u\nMINOR=%u\nDEVNAME=dri/%s\n", EMU_DRM_MAJOR, minor,
		 name);
	if (!err)
		err = emu_drm_write_str(dir, "uevent", buf);
	/* <class dev>/device -> the function; /sys/dev/char/226:<minor> -> <class dev>. */
	if (!err)
		err = emu_drm_symlink("../..", dir, "device");
	if (!err)
		err = emu_drm_symlink("../../../../../class/drm", dir, "subsystem");
	snprintf(dir, sizeof(dir), "%s/sys/dev/char", root);
	if (!err)
		err = emu_drm_mkdirs(dir);
	snprintf(link, sizeof(link), "../../devices/%s/drm/%s", rel_pci, name);
	snprintf(buf, sizeof(buf), "%u:%u", EMU_DRM_MAJOR, minor);
	if (!err)
		err = emu_drm_symlink(link, dir, buf);
	/* /sys/class/drm/<name> -> the class device, as drm_sysfs registers it. */
	snprintf(dir, sizeof(dir), "%s/sys/class/drm", root);
	if (!err)
		err = emu_drm_mkdirs(dir);
	if (!err)
		err = emu_drm_symlink(link, dir, name);
	return err;
}

int emu_drm_populate_root(const char *root, const struct emu_config *cfg)
{
	char pcidir[PATH_MAX], rel[128], slot[32], name[32];
	int err = 0;

	for (unsigned int i = 0; !err && i < cfg->num_gpus; i++) {
		const struct emu_gpu_config *g = &cfg->gpus[i];
		unsigned int minor =
			g->render_minor ? g->render_minor : EMU_DRM_RENDER_MINOR_BASE + i;

		snprintf(slot, sizeof(slot), "%04x:%02x:%02x.%1u", g->domain, g->bus, g->device,
			 g->function);
		snprintf(rel, sizeof(rel), "emu/%s", slot);
		snprintf(pcidir, sizeof(pcidir), "%s/sys/devices/%s", root, rel);
		err = emu_drm_mkdirs(pcidir);
		if (!err)
			err = emu_drm_pci_files(pcidir, g, slot);
		snprintf(name, sizeof(name), "card%u", i);
		if (!err)
			err = emu_drm_class_dev(pcidir, root, rel, name, i);
		snprintf(name, sizeof(name), "renderD%u", minor);
		if (!err)
			err = emu_drm_class_dev(pcidir, root, rel, name, minor);
	}
	if (!err) {
		snprintf(pcidir, sizeof(pcidir), "%s/sys/bus/pci", root);
		err = emu_drm_mkdirs(pcidir);
	}
	return err;
}
