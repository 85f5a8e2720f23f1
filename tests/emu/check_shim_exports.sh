#!/bin/bash
# EXPECT: the shim exports exactly the libc functions it interposes and
# nothing else (everything of its own is hidden).
set -euo pipefail
allowed=' open open64 __open_2 __open64_2 openat openat64 __openat_2 __openat64_2 fopen fopen64
 opendir realpath stat stat64 lstat lstat64 fstat fstat64 fstatat fstatat64 __xstat __xstat64
 __lxstat __lxstat64 __fxstat __fxstat64 __fxstatat __fxstatat64 statx access faccessat readlink
 readlinkat ioctl mmap mmap64 lseek lseek64 close read pread pread64 fstatfs fstatfs64 '
bad=0
for sym in $(nm -D --defined-only "$1" | awk '$2 ~ /[TWDBR]/ {print $3}'); do
	case "$allowed" in *" $sym "* | *" $sym"$'\n'*) ;; *) echo "unexpected export: $sym"; bad=1 ;; esac
done
for sym in open fstat ioctl mmap; do
	nm -D --defined-only "$1" | awk '{print $3}' | grep -qx "$sym" || { echo "missing: $sym"; bad=1; }
done
exit $bad
