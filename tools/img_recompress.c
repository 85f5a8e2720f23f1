// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * `recompress DIR --level L [--filter F] [--chunk-size S] [--out DIR2]`:
 * rewrites the stream files with other settings, crash-safe.
 *
 * Each stream file is rewritten as .NAME.recompress beside the old one
 * (compress_writer_new() itself writes .NAME.recompress.partial-XXXXXX and
 * renames it only when header, chunks, index and footer are all written and
 * fsynced). The new file is then read back in full, and each BO's content
 * digest (img_digest_piece(), independent of chunk sizes) must equal the
 * old file's. Only when every stream passes are the new files renamed over
 * the old ones, one rename(2) each, and the folder fsynced. The metadata
 * names streams only by file name and does not depend on their settings, so
 * each stream file is valid alone: an interruption at any point leaves
 * every stream either wholly old or wholly new, and the image restorable.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <dirent.h>

#include "image.h"
#include "img.h"

#define RC_SUFFIX ".recompress"

struct rc_opts {
	struct compress_writer_opts w;
	const char *out;
	bool flatten;	   /* --flatten: no references to parent images */
	double rate_limit; /* bytes per second read from the old streams; 0: none */
};

/* Per tag of one stream: the object's extent and its content digests. */
struct rc_tag {
	uint64_t tag, start, end;
	uint64_t old_digest, new_digest, old_bytes, new_bytes;
};

struct rc_window {
	uint8_t *buf;
	uint64_t tag, off, len;
};

/* A set of windows in flight in the writer; lock guards busy. */
struct rc_set {
	struct rc_window *win;
	unsigned int n;
	unsigned int busy;
	int status;
	pthread_mutex_t *lock;
	pthread_cond_t *cond;
};

struct rc_stream_result {
	char name[NAME_MAX + 1];
	uint64_t raw, old_stored, new_stored, old_file, new_file;
	uint64_t chunks[COMPRESS_CODEC_COUNT];
	double seconds;
};

static void rc_push_done(void *cookie, int status)
{
	struct rc_set *set = cookie;

	pthread_mutex_lock(set->lock);
	if (status && !set->status)
		set->status = status;
	set->busy--;
	pthread_cond_broadcast(set->cond);
	pthread_mutex_unlock(set->lock);
}

static int tag_cmp(const void *a, const void *b)
{
	const struct rc_tag *x = a, *y = b;

	return x->tag < y->tag ? -1 : x->tag > y->tag;
}

static struct rc_tag *rc_find(struct rc_tag *t, size_t n, uint64_t tag)
{
	struct rc_tag key = { .tag = tag };

	return bsearch(&key, t, n, sizeof(*t), tag_cmp);
}

/* The tags of a stream with their extents, sorted by tag. */
static int rc_tags(struct compress_reader *r, struct rc_tag **out, size_t *n_out)
{
	uint64_t n = compress_reader_chunk_count(r);
	struct rc_tag *t = calloc(n ? n : 1, sizeof(*t));
	size_t m = 0;

	if (!t)
		return -ENOMEM;
	for (uint64_t i = 0; i < n; i++) {
		struct compress_chunk_info ci;

		compress_reader_chunk(r, i, &ci);
		t[m++] = (struct rc_tag){ .tag = ci.tag,
					  .start = ci.offset,
					  .end = ci.offset + ci.raw_len };
	}
	qsort(t, m, sizeof(*t), tag_cmp);
	/* Merge entries of one tag into its extent. */
	size_t k = 0;

	for (size_t i = 0; i < m; i++) {
		if (k && t[k - 1].tag == t[i].tag) {
			if (t[i].start < t[k - 1].start)
				t[k - 1].start = t[i].start;
			if (t[i].end > t[k - 1].end)
				t[k - 1].end = t[i].end;
		} else {
			t[k++] = t[i];
		}
	}
	*out = t;
	*n_out = k;
	return 0;
}

static void rc_throttle(double t0, uint64_t bytes, double rate)
{
	double due, now;

	if (rate <= 0)
		return;
	due = t0 + bytes / rate;
	now = common_now_s();
	if (due > now) {
		struct timespec ts = { (time_t)(due - now),
				       (long)((due - now - (time_t)(due - now)) * 1e9) };

		nanosleep(&ts, NULL);
	}
}

struct rc_check {
	struct rc_tag *tags;
	size_t n_tags;
	char *err;
	size_t err_len;
	const char *name;
};

static int rc_check_chunk(void *ctx, uint64_t chunk, const struct compress_chunk_info *ci,
			  const void *data, int status)
{
	struct rc_check *c = ctx;
	struct rc_tag *t;

	if (status) {
		snprintf(c->err, c->err_len, "%s: chunk %" PRIu64 " does not read back: %s",
			 c->name, chunk, strerror(-status));
		return status;
	}
	t = rc_find(c->tags, c->n_tags, ci->tag);
	if (!t) {
		snprintf(c->err, c->err_len,
			 "%s: chunk %" PRIu64 " has tag %" PRIu64 ", which the old stream lacks",
			 c->name, chunk, ci->tag);
		return -EBADMSG;
	}
	t->new_digest += img_digest_piece(ci->offset, data, ci->raw_len);
	t->new_bytes += ci->raw_len;
	return 0;
}

/*
 * Rewrites stream S of D into TARGET_FD/.NAME.recompress and proves it holds
 * the same bytes per object. On failure nothing of it is left behind.
 */
/* The process image stream @s belongs to, and its number for @s (0 when it lists none). */
static const Vramstream__ProcessImage *rc_owner(const struct img_dir *d, const struct img_stream *s,
						uint16_t *own)
{
	const Vramstream__ProcessImage *img = img_stream_owner(d, s);

	*own = 0;
	for (size_t k = 0; img && k < img->n_sources; k++)
		if (!img->sources[k]->depth && !strcmp(img->sources[k]->path, s->name))
			*own = (uint16_t)img->sources[k]->id;
	return img;
}

/*
 * The content table of the new stream: the stored chunks of the parent
 * files the image lists, under their numbers, so the new stream keeps
 * referring to them (none with --flatten), and its own chunks as it goes.
 * Each stream has a table of its own: a reference to another stream of the
 * image would point into a file that is renamed at another moment, and an
 * interruption between the two renames would leave it unresolved.
 */
static int rc_table(const struct rc_opts *o, const struct img_dir *d, const struct img_stream *s,
		    struct compress_dedup **out, uint16_t *own, char *err, size_t err_len)
{
	const Vramstream__ProcessImage *img = rc_owner(d, s, own);
	int r;

	*out = NULL;
	if (!img || !img->n_sources)
		return 0; /* an image without the list: every chunk stored, as it was */
	r = compress_dedup_new(out);
	if (r) {
		snprintf(err, err_len, "%s: out of memory", s->name);
		return r;
	}
	for (size_t k = 0; !o->flatten && k < img->n_sources; k++) {
		const Vramstream__StreamSource *src = img->sources[k];
		struct compress_reader *pr;
		struct compress_err cerr = { "" };

		if (!src->depth)
			continue;
		r = image_stream_index_open(d->dirfd, src->path, &pr, &cerr);
		if (!r) {
			/* Only what it stores: what it refers to is listed on its own. */
			r = compress_dedup_add_reader(*out, pr, (uint16_t)src->id, NULL, 0);
			compress_reader_free(pr);
		}
		if (r) {
			snprintf(err, err_len, "%s: parent file %s: %s", s->name, src->path,
				 cerr.msg[0] ? cerr.msg : strerror(-r));
			return r;
		}
	}
	return 0;
}

/* The files the new stream's references name: itself, and the listed parent files. */
static int rc_attach(const struct img_dir *d, const struct img_stream *s,
		     struct compress_reader *nr, uint16_t own, const char *path,
		     struct compress_err *cerr)
{
	uint16_t dummy;
	const Vramstream__ProcessImage *img = rc_owner(d, s, &dummy);
	bool self = false, used[IMAGE_SOURCE_MAX + 1] = { false };
	struct compress_chunk_info ci;
	int r;

	for (uint64_t i = 0; i < compress_reader_chunk_count(nr); i++) {
		compress_reader_chunk(nr, i, &ci);
		if (ci.codec != COMPRESS_CODEC_REF)
			continue;
		if (ci.source == own)
			self = true;
		else
			used[ci.source] = true;
	}
	if (self && (r = compress_reader_add_source(nr, own, AT_FDCWD, path, 0, cerr)))
		return r;
	for (size_t k = 0; img && k < img->n_sources; k++) {
		const Vramstream__StreamSource *src = img->sources[k];

		if (src->depth && used[src->id] &&
		    (r = compress_reader_add_source(nr, (uint16_t)src->id, d->dirfd, src->path,
						    src->has_identity ? src->identity : 0, cerr)))
			return r;
	}
	return compress_reader_check_refs(nr, cerr);
}

static int rc_stream(const struct img_common *c, const struct rc_opts *o, struct img_dir *d,
		     struct img_stream *s, int target_fd, const char *target,
		     struct img_progress *prog, struct rc_stream_result *res, char *err,
		     size_t err_len)
{
	pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
	/* Without --chunk-size the stream keeps its chunk size (restore's buffers fit it). */
	uint32_t wsize = o->w.chunk_size ? o->w.chunk_size : s->chunk_size;
	struct compress_writer_opts wo = o->w;
	unsigned int q = 2 * c->workers + 2, cur = 0;
	struct rc_set sets[2] = { { 0 } };
	struct compress_writer *w = NULL;
	struct compress_reader *nr = NULL;
	struct compress_reader_opts ro;
	struct compress_stats st;
	struct compress_err cerr = { { 0 } };
	struct rc_tag *tags = NULL;
	size_t n_tags = 0;
	uint8_t *scratch = NULL;
	char path[PATH_MAX];
	uint64_t read_bytes = 0;
	struct compress_dedup *table = NULL;
	uint16_t own = 0;
	double t0 = common_now_s();
	int r;

	/* Bound memory: two sets of at most 128 MiB of windows each. */
	if ((uint64_t)q * wsize > (128u << 20))
		q = (128u << 20) / wsize > 2 ? (128u << 20) / wsize : 2;
	if (snprintf(path, sizeof(path), "%s/.%s" RC_SUFFIX, target, s->name) >=
	    (int)sizeof(path)) {
		snprintf(err, err_len, "%s/%s: path too long", target, s->name);
		return -ENAMETOOLONG;
	}
	snprintf(res->name, sizeof(res->name), "%s", s->name);
	res->old_stored = s->stored_bytes;
	res->old_file = s->file_bytes;

	r = rc_tags(s->reader, &tags, &n_tags);
	scratch = malloc(s->chunk_size);
	for (int k = 0; k < 2 && !r; k++) {
		sets[k].win = calloc(q, sizeof(*sets[k].win));
		sets[k].lock = &lock;
		sets[k].cond = &cond;
		if (!sets[k].win) {
			r = -ENOMEM;
			break;
		}
		for (unsigned int i = 0; i < q && !r; i++)
			if (!(sets[k].win[i].buf = aligned_alloc(4096, wsize)))
				r = -ENOMEM;
	}
	if (r || !scratch) {
		r = r ? r : -ENOMEM;
		snprintf(err, err_len, "%s: out of memory", s->name);
		goto out;
	}
	wo.chunk_size = wsize;
	r = rc_table(o, d, s, &table, &own, err, err_len);
	if (r)
		goto out;
	wo.dedup = table;
	wo.source = own;
	r = compress_writer_new(path, &wo, &w, &cerr);
	if (r) {
		snprintf(err, err_len, "%s", cerr.msg);
		goto out;
	}

	/* Windows of at most one new chunk each, per tag, in tag and offset order. */
	size_t ti = 0;
	uint64_t off = n_tags ? tags[0].start : 0;

	while (ti < n_tags) {
		struct rc_set *set = &sets[cur];

		pthread_mutex_lock(&lock);
		while (set->busy)
			pthread_cond_wait(&cond, &lock);
		r = sets[0].status ? sets[0].status : sets[1].status;
		pthread_mutex_unlock(&lock);
		if (r) {
			snprintf(err, err_len, "%s: writing the new stream failed (%s)", s->name,
				 strerror(-r));
			goto out;
		}
		set->n = 0;
		while (ti < n_tags && set->n < q) {
			struct rc_window *win = &set->win[set->n++];
			uint64_t end = off + wsize < tags[ti].end ? off + wsize : tags[ti].end;

			win->tag = tags[ti].tag;
			win->off = off;
			win->len = end - off;
			r = img_read_range_start(s->reader, win->tag, win->off, win->len, win->buf,
						 scratch, &cerr);
			if (r)
				break;
			off = end;
			if (off >= tags[ti].end && ++ti < n_tags)
				off = tags[ti].start;
		}
		{
			int wr = compress_reader_wait(s->reader, r ? NULL : &cerr);

			r = r ? r : wr;
		}
		if (r) {
			snprintf(err, err_len, "%s (the old image is damaged: run verify)",
				 cerr.msg);
			goto out;
		}
		for (unsigned int i = 0; i < set->n; i++) {
			struct rc_window *win = &set->win[i];
			struct rc_tag *t = rc_find(tags, n_tags, win->tag);

			t->old_digest += img_digest_piece(win->off, win->buf, win->len);
			t->old_bytes += win->len;
			pthread_mutex_lock(&lock);
			set->busy++;
			pthread_mutex_unlock(&lock);
			r = compress_writer_push(w, win->buf, win->len, win->tag, win->off,
						 rc_push_done, set);
			if (r == -EINVAL) {
				rc_push_done(set, r);
			}
			if (r) {
				compress_writer_finish(w, NULL, &cerr);
				snprintf(err, err_len, "%s", cerr.msg);
				goto out;
			}
			read_bytes += win->len;
			img_progress_add(prog, win->len);
		}
		rc_throttle(t0, read_bytes, o->rate_limit);
		cur ^= 1;
	}
	r = compress_writer_finish(w, &st, &cerr);
	if (r) {
		snprintf(err, err_len, "%s", cerr.msg);
		goto out;
	}
	res->new_stored = st.stored_bytes;
	res->new_file = st.file_bytes;
	res->raw = st.raw_bytes;
	memcpy(res->chunks, st.chunks, sizeof(res->chunks));

	/* Read the new file back in full: every chunk's checksum, every object's digest. */
	compress_reader_opts_default(&ro);
	ro.workers = c->workers;
	r = compress_reader_open(path, &ro, &nr, &cerr);
	if (!r)
		r = rc_attach(d, s, nr, own, path, &cerr);
	if (r) {
		snprintf(err, err_len, "%s", cerr.msg);
		goto out;
	}
	{
		struct rc_check chk = { tags, n_tags, err, err_len, path };

		r = img_scan(nr, 2 * c->workers + 2, rc_check_chunk, &chk, NULL);
		if (r == -ENOMEM)
			snprintf(err, err_len, "%s: out of memory reading it back", path);
	}
	for (size_t i = 0; i < n_tags && !r; i++) {
		if (tags[i].old_bytes != tags[i].new_bytes ||
		    tags[i].old_digest != tags[i].new_digest) {
			snprintf(err, err_len,
				 "%s: object %" PRIu64 " differs from the old stream's after "
				 "rewriting (%" PRIu64 " bytes, digest %016" PRIx64 ", old %" PRIu64
				 " bytes, digest %016" PRIx64 ")",
				 path, tags[i].tag, tags[i].new_bytes, tags[i].new_digest,
				 tags[i].old_bytes, tags[i].old_digest);
			r = -EBADMSG;
		}
	}
	res->seconds = common_now_s() - t0;
out:
	if (w) {
		/* free() waits for chunks in flight, which hold our windows. */
		compress_writer_free(w);
	}
	compress_reader_free(nr);
	compress_dedup_free(table);
	if (r)
		unlinkat(target_fd, path + strlen(target) + 1, 0);
	for (int k = 0; k < 2; k++) {
		if (sets[k].win)
			for (unsigned int i = 0; i < q; i++)
				free(sets[k].win[i].buf);
		free(sets[k].win);
	}
	free(scratch);
	free(tags);
	return r;
}

/* Copies NAME from SRC_FD to DST_FD (0600 temporary, then rename), fsynced. */
static int rc_copy(int src_fd, int dst_fd, const char *name)
{
	char tmp[NAME_MAX + 16], buf[1 << 16];
	struct stat st;
	int in, out, r = 0;

	snprintf(tmp, sizeof(tmp), ".%s.copy", name);
	in = openat(src_fd, name, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return -errno;
	if (fstat(in, &st)) {
		r = -errno;
		close(in);
		return r;
	}
	out = openat(dst_fd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, st.st_mode & 07777);
	if (out < 0) {
		r = -errno;
		close(in);
		return r;
	}
	for (;;) {
		ssize_t n = read(in, buf, sizeof(buf)), m = 0;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			break;
		}
		if (n == 0)
			break;
		while (m < n) {
			ssize_t k = write(out, buf + m, (size_t)(n - m));

			if (k < 0 && errno == EINTR)
				continue;
			if (k <= 0) {
				r = k < 0 ? -errno : -EIO;
				break;
			}
			m += k;
		}
		if (r)
			break;
	}
	if (!r && fsync(out))
		r = -errno;
	if (close(out) && !r)
		r = -errno;
	close(in);
	if (!r && renameat(dst_fd, tmp, dst_fd, name))
		r = -errno;
	if (r)
		unlinkat(dst_fd, tmp, 0);
	return r;
}

/* Removes what an interrupted recompress left in FD: .NAME.recompress[.partial-*], .NAME.copy. */
static void rc_clean(int fd, bool quiet_json, bool copies)
{
	int dup_fd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct dirent *de;
	DIR *dir;

	if (dup_fd < 0)
		return;
	dir = fdopendir(dup_fd);
	if (!dir) {
		close(dup_fd);
		return;
	}
	while ((de = readdir(dir))) {
		const char *n = de->d_name;
		size_t l = strlen(n);
		bool ours = n[0] == '.' && strstr(n, ".vrs" RC_SUFFIX) &&
			    (!strcmp(n + l - strlen(RC_SUFFIX), RC_SUFFIX) ||
			     strstr(n, RC_SUFFIX ".partial-"));

		/* rc_copy()'s temporaries, only in an --out folder (only we write there). */
		ours |= copies && n[0] == '.' && l > 5 && !strcmp(n + l - 5, ".copy");
		if (ours && unlinkat(fd, n, 0) == 0 && !quiet_json)
			fprintf(stderr,
				"vramstream-img recompress: removed %s, left by an "
				"interrupted run\n",
				n);
	}
	closedir(dir);
}

static int rc_out_dir(struct img_dir *d, const char *out, int *out_fd, bool *in_place, char *err,
		      size_t err_len)
{
	struct stat a, b;
	struct dirent *de;
	DIR *dir;
	int fd, dup_fd;

	if (mkdir(out, 0700) && errno != EEXIST) {
		snprintf(err, err_len, "%s: %s", out, strerror(errno));
		return -errno;
	}
	fd = open(out, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, err_len, "%s: %s", out, strerror(errno));
		return -errno;
	}
	if (fstat(fd, &a) == 0 && fstat(d->dirfd, &b) == 0 && a.st_dev == b.st_dev &&
	    a.st_ino == b.st_ino) {
		*in_place = true;
		*out_fd = fd;
		return 0;
	}
	dup_fd = dup(fd);
	dir = dup_fd >= 0 ? fdopendir(dup_fd) : NULL;
	if (!dir) {
		snprintf(err, err_len, "%s: %s", out, strerror(errno));
		close(fd);
		return -EIO;
	}
	while ((de = readdir(dir))) {
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..") &&
		    strncmp(de->d_name, ".", 1)) {
			snprintf(err, err_len,
				 "%s is not empty (it holds %s): --out wants an empty "
				 "or new folder",
				 out, de->d_name);
			closedir(dir);
			close(fd);
			return -EEXIST;
		}
	}
	closedir(dir);
	*in_place = false;
	*out_fd = fd;
	return 0;
}

/* Copies every regular file of D but the streams being rewritten and leftovers. */
static int rc_copy_rest(struct img_dir *d, int out_fd, const char *out, char *err, size_t err_len)
{
	int dup_fd = openat(d->dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct dirent *de;
	DIR *dir;
	int r = 0;

	dir = dup_fd >= 0 ? fdopendir(dup_fd) : NULL;
	if (!dir)
		return -errno;
	while ((de = readdir(dir)) && !r) {
		struct stat st;
		int si;

		if (fstatat(d->dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) || !S_ISREG(st.st_mode))
			continue;
		si = img_dir_stream(d, de->d_name);
		if ((si >= 0 && d->streams[si].reader) ||
		    image_name_kind(de->d_name, NULL, NULL) == IMAGE_FILE_LEFTOVER)
			continue;
		r = rc_copy(d->dirfd, out_fd, de->d_name);
		if (r)
			snprintf(err, err_len, "copying %s to %s: %s", de->d_name, out,
				 strerror(-r));
	}
	closedir(dir);
	return r;
}

/*
 * After --flatten, once every stream is in place: the metadata no longer
 * lists parent files or a parent. Until this rename the old list stays, which
 * is right for any mix of old and new streams an interruption leaves.
 */
static int rc_flatten_meta(struct img_dir *d, int out_fd, const char *target, char *err,
			   size_t err_len)
{
	for (unsigned int i = 0; i < d->n_procs; i++) {
		Vramstream__ProcessImage *img = d->procs[i].img;
		size_t n = 0;
		uint8_t *buf;
		size_t len;
		int r;

		if (!img->parent && !img->n_sources)
			continue;
		for (size_t k = 0; k < img->n_sources; k++)
			if (!img->sources[k]->depth)
				img->sources[n++] = img->sources[k];
		for (size_t k = n; k < img->n_sources; k++)
			vramstream__stream_source__free_unpacked(img->sources[k], NULL);
		img->n_sources = n;
		free(img->parent);
		img->parent = NULL;
		r = image_meta_encode(img, &buf, &len);
		if (!r) {
			r = image_file_write(out_fd, d->procs[i].name, buf, len);
			free(buf);
		}
		if (r) {
			snprintf(err, err_len, "%s/%s: writing the flattened metadata: %s", target,
				 d->procs[i].name, strerror(-r));
			return r;
		}
	}
	return 0;
}

static void rc_usage(FILE *f)
{
	fprintf(f,
		"usage: vramstream-img recompress DIR --level L [--filter F] [--chunk-size S]\n"
		"                                 [--out DIR2] [--rate-limit BYTES/s] "
		"[--no-fsync] [--flatten]\n"
		"  rewrites the stream files with zstd level L (negative: fast levels; off: raw),\n"
		"  filter F (auto, none, bytegroup2, bytegroup4) and chunk size S (64K..256M; restore\n"
		"  needs VRAMSTREAM_BUFFER_SIZE >= S). New files are written beside the old,\n"
		"  read back and compared, then renamed into place; with --out the image is\n"
		"  copied to DIR2 (new or empty) and DIR is left as it is. An incremental image\n"
		"  keeps referring to its parents; --flatten stores every chunk in the image,\n"
		"  which then restores without them (--out needs --flatten for such an image).\n");
}

int img_cmd_recompress(const struct img_common *c, int argc, char **argv)
{
	static const struct option opts[] = { { "level", required_argument, NULL, 'l' },
					      { "filter", required_argument, NULL, 'f' },
					      { "chunk-size", required_argument, NULL, 'c' },
					      { "out", required_argument, NULL, 'o' },
					      { "rate-limit", required_argument, NULL, 'r' },
					      { "no-fsync", no_argument, NULL, 'n' },
					      { "flatten", no_argument, NULL, 'F' },
					      { "help", no_argument, NULL, 'h' },
					      { NULL, 0, NULL, 0 } };
	struct rc_stream_result *res = NULL;
	struct img_progress prog;
	struct rc_opts o = { 0 };
	struct img_dir *d = NULL;
	bool have_level = false, in_place = true;
	const char *target;
	uint64_t total = 0, v;
	char err[1200] = "";
	int out_fd = -1, ret = IMG_EXIT_PROBLEM, r, opt;
	unsigned int n_res = 0;
	double t0 = common_now_s();

	compress_writer_opts_default(&o.w);
	o.w.fsync = true;
	while ((opt = getopt_long(argc, argv, "l:f:c:o:r:nFh", opts, NULL)) != -1) {
		switch (opt) {
		case 'F':
			o.flatten = true;
			break;
		case 'l':
			if (compress_level_parse(optarg, &o.w.level)) {
				fprintf(stderr,
					"vramstream-img recompress: bad --level '%s' "
					"(an integer zstd level or off)\n",
					optarg);
				return IMG_EXIT_USAGE;
			}
			have_level = true;
			break;
		case 'f':
			if (compress_writer_filter_parse(optarg, &o.w)) {
				fprintf(stderr,
					"vramstream-img recompress: bad --filter '%s' "
					"(auto, none, bytegroup2, bytegroup4)\n",
					optarg);
				return IMG_EXIT_USAGE;
			}
			break;
		case 'c':
			if (common_size_parse(optarg, &v) || v < COMPRESS_CHUNK_MIN ||
			    v > COMPRESS_CHUNK_MAX || v % 4096) {
				fprintf(stderr,
					"vramstream-img recompress: bad --chunk-size '%s' "
					"(64K..256M, a multiple of 4K)\n",
					optarg);
				return IMG_EXIT_USAGE;
			}
			o.w.chunk_size = (uint32_t)v;
			break;
		case 'o':
			o.out = optarg;
			break;
		case 'r':
			if (common_size_parse(optarg, &v) || !v) {
				fprintf(stderr,
					"vramstream-img recompress: bad --rate-limit '%s'\n",
					optarg);
				return IMG_EXIT_USAGE;
			}
			o.rate_limit = (double)v;
			break;
		case 'n':
			o.w.fsync = false;
			break;
		case 'h':
			rc_usage(stdout);
			return IMG_EXIT_OK;
		default:
			rc_usage(stderr);
			return IMG_EXIT_USAGE;
		}
	}
	if (optind != argc - 1 || !have_level) {
		if (!have_level)
			fprintf(stderr, "vramstream-img recompress: --level is required\n");
		rc_usage(stderr);
		return IMG_EXIT_USAGE;
	}
	o.w.workers = c->workers;

	if (img_dir_open(argv[optind], c->workers, &d, err, sizeof(err)))
		goto fail;
	/* One recompress per folder at a time; restore does not need the lock. */
	if (flock(d->dirfd, LOCK_EX | LOCK_NB)) {
		snprintf(err, sizeof(err), "%s: another recompress holds it (%s)", d->path,
			 strerror(errno));
		goto fail;
	}
	for (unsigned int i = 0; i < d->n_procs; i++)
		if (d->procs[i].error) {
			snprintf(err, sizeof(err), "%s (refusing to rewrite a damaged image)",
				 d->procs[i].why);
			goto fail;
		}
	for (unsigned int i = 0; i < d->n_procs; i++)
		if (o.out && !o.flatten && d->procs[i].img->parent) {
			snprintf(err, sizeof(err),
				 "%s refers to its parent %s, which a copy elsewhere would not "
				 "find: add --flatten, or recompress in place",
				 d->procs[i].name, d->procs[i].img->parent);
			goto fail;
		}
	for (unsigned int i = 0; i < d->n_streams; i++) {
		if (d->streams[i].error && d->streams[i].n_bos) {
			snprintf(err, sizeof(err), "%s (refusing to rewrite a damaged image)",
				 d->streams[i].why);
			goto fail;
		}
		if (d->streams[i].ref_error) {
			snprintf(err, sizeof(err),
				 "%s (refusing to rewrite an image that cannot be "
				 "restored)",
				 d->streams[i].ref_why);
			goto fail;
		}
		total += d->streams[i].raw_bytes;
	}
	if (!d->n_procs) {
		snprintf(err, sizeof(err), "%s holds no vramstream image", d->path);
		goto fail;
	}
	target = d->path;
	if (o.out) {
		if (rc_out_dir(d, o.out, &out_fd, &in_place, err, sizeof(err)))
			goto fail;
		target = o.out;
	} else {
		out_fd = dup(d->dirfd);
	}
	if (!in_place && flock(out_fd, LOCK_EX | LOCK_NB)) {
		snprintf(err, sizeof(err), "%s: another recompress holds it", o.out);
		goto fail;
	}
	rc_clean(out_fd, c->json, !in_place);
	if (!in_place && rc_copy_rest(d, out_fd, o.out, err, sizeof(err)))
		goto fail;

	res = calloc(d->n_streams ? d->n_streams : 1, sizeof(*res));
	if (!res)
		goto fail;
	img_progress_start(&prog, c->quiet, "recompress", total);
	for (unsigned int i = 0; i < d->n_streams; i++) {
		struct img_stream *s = &d->streams[i];

		if (!s->reader)
			continue;
		r = rc_stream(c, &o, d, s, out_fd, target, &prog, &res[n_res], err, sizeof(err));
		if (r) {
			img_progress_end(&prog);
			/* Drop what this run wrote; the old streams were not touched. */
			rc_clean(out_fd, true, false);
			goto fail;
		}
		n_res++;
	}
	img_progress_end(&prog);
	/* Commit: each rename swaps one whole stream file. */
	for (unsigned int i = 0; i < n_res; i++) {
		char from[NAME_MAX + 16];

		snprintf(from, sizeof(from), ".%s" RC_SUFFIX, res[i].name);
		if (renameat(out_fd, from, out_fd, res[i].name)) {
			snprintf(err, sizeof(err), "%s/%s: renaming into place: %s", target,
				 res[i].name, strerror(errno));
			goto fail;
		}
	}
	if (o.flatten && rc_flatten_meta(d, out_fd, target, err, sizeof(err)))
		goto fail;
	if (fsync(out_fd)) {
		snprintf(err, sizeof(err), "%s: fsync of the folder: %s", target, strerror(errno));
		goto fail;
	}
	ret = IMG_EXIT_OK;

	if (c->json) {
		struct img_json j;
		char lv[16];

		img_json_init(&j, stdout);
		img_json_obj_begin(&j, NULL);
		img_json_str(&j, "image_dir", d->path);
		img_json_str(&j, "out_dir", target);
		img_json_str(&j, "level", img_fmt_level(lv, sizeof(lv), o.w.level));
		img_json_str(&j, "filter", compress_writer_filter_name(&o.w));
		if (o.w.chunk_size)
			img_json_u64(&j, "chunk_size", o.w.chunk_size);
		else
			img_json_null(&j, "chunk_size");
		img_json_double(&j, "seconds", common_now_s() - t0);
		img_json_arr_begin(&j, "streams");
		for (unsigned int i = 0; i < n_res; i++) {
			img_json_obj_begin(&j, NULL);
			img_json_str(&j, "file", res[i].name);
			img_json_u64(&j, "raw_bytes", res[i].raw);
			img_json_u64(&j, "old_stored_bytes", res[i].old_stored);
			img_json_u64(&j, "new_stored_bytes", res[i].new_stored);
			img_json_u64(&j, "old_file_bytes", res[i].old_file);
			img_json_u64(&j, "new_file_bytes", res[i].new_file);
			img_json_u64(&j, "chunks_zero", res[i].chunks[COMPRESS_CODEC_ZERO]);
			img_json_u64(&j, "chunks_raw", res[i].chunks[COMPRESS_CODEC_RAW]);
			img_json_u64(&j, "chunks_zstd", res[i].chunks[COMPRESS_CODEC_ZSTD]);
			img_json_u64(&j, "chunks_planes", res[i].chunks[COMPRESS_CODEC_PLANES]);
			img_json_double(&j, "seconds", res[i].seconds);
			img_json_obj_end(&j);
		}
		img_json_arr_end(&j);
		img_json_obj_end(&j);
	} else {
		struct img_table t;
		char b1[32], b2[32], b3[32], lv[16];

		printf("recompressed %s%s%s: level %s, filter %s, %s chunks, %u worker(s)\n",
		       d->path, in_place ? "" : " into ", in_place ? "" : target,
		       img_fmt_level(lv, sizeof(lv), o.w.level), compress_writer_filter_name(&o.w),
		       o.w.chunk_size ? img_fmt_bytes(b1, sizeof(b1), o.w.chunk_size) : "unchanged",
		       c->workers);
		img_table_init(&t, "lrrrrrrr", "FILE", "RAW BYTES", "OLD STORED", "NEW STORED",
			       "RATIO", "ZERO/RAW/ZSTD/PLANES", "SECONDS", "GB/S");
		for (unsigned int i = 0; i < n_res; i++) {
			img_table_cell(&t, "%s", res[i].name);
			img_table_cell(&t, "%s", img_fmt_bytes(b1, sizeof(b1), res[i].raw));
			img_table_cell(&t, "%s", img_fmt_bytes(b2, sizeof(b2), res[i].old_stored));
			img_table_cell(&t, "%s", img_fmt_bytes(b3, sizeof(b3), res[i].new_stored));
			img_table_cell(&t, "%.2f",
				       res[i].new_stored ? (double)res[i].raw / res[i].new_stored
							 : 0.0);
			img_table_cell(&t, "%" PRIu64 "/%" PRIu64 "/%" PRIu64 "/%" PRIu64,
				       res[i].chunks[COMPRESS_CODEC_ZERO],
				       res[i].chunks[COMPRESS_CODEC_RAW],
				       res[i].chunks[COMPRESS_CODEC_ZSTD],
				       res[i].chunks[COMPRESS_CODEC_PLANES]);
			img_table_cell(&t, "%.2f", res[i].seconds);
			img_table_cell(&t, "%.2f",
				       res[i].seconds > 0 ? res[i].raw / res[i].seconds / 1e9
							  : 0.0);
		}
		img_table_print(&t, stdout, 2);
		img_table_free(&t);
		printf("every stream read back and matched the old contents; renamed into place\n");
	}
	goto out;
fail:
	fprintf(stderr, "vramstream-img recompress: %s\n", err[0] ? err : "out of memory");
out:
	if (out_fd >= 0)
		close(out_fd);
	free(res);
	img_dir_free(d);
	return ret;
}
