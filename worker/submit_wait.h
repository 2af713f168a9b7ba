/*
 * submit_wait.h - submit --wait: follow a submitted job until it is filed (submit_wait.c).
 */
#ifndef SUBMIT_WAIT_H
#define SUBMIT_WAIT_H

struct config;

/*
 * submit_wait: follow job job_id of config's spool on stderr until the worker files it; the
 * job's exit status (0 succeeded, 1 rejected, failed or cancelled, 3 partial), 1 when it
 * vanished from the spool, 130 when SIGINT or SIGTERM ended the waiting (the job goes on).
 */
int submit_wait(const struct config *config, const char *job_id);

#endif
