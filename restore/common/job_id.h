/*
 * job_id.h - a job's id (job_id.c): the UUID that names a restore or a backup in its report,
 * its log lines and the files it makes.
 */
#ifndef JOB_ID_H
#define JOB_ID_H

/* restore_new_job_id: a new lowercase UUID into buf (37 bytes). */
void restore_new_job_id(char buf[37]);

#endif
