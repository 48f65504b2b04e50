-- The state store as create_all (and APScheduler) made it before migrations (main at 1390982).
CREATE TABLE alp_incidents (
	id INTEGER NOT NULL, 
	priority VARCHAR(4) NOT NULL, 
	summary TEXT NOT NULL, 
	impact TEXT NOT NULL, 
	services JSON NOT NULL, 
	status VARCHAR(16) NOT NULL, 
	channel VARCHAR(64) NOT NULL, 
	opened_by VARCHAR(64) NOT NULL, 
	opened_at DATETIME NOT NULL, 
	ladder JSON NOT NULL, 
	next_step INTEGER NOT NULL, 
	escalation_id VARCHAR(40), 
	announced BOOLEAN NOT NULL, 
	message_ts VARCHAR(32), 
	acked_by VARCHAR(64), 
	acked_at DATETIME, 
	resolved_by VARCHAR(64), 
	resolved_at DATETIME, 
	checklist JSON NOT NULL, 
	version INTEGER NOT NULL, 
	PRIMARY KEY (id)
);
CREATE TABLE alp_pages (
	incident_id INTEGER NOT NULL, 
	escalation_id VARCHAR(40) NOT NULL, 
	step INTEGER NOT NULL, 
	status VARCHAR(16) NOT NULL, 
	due_at DATETIME, 
	claimed_at DATETIME NOT NULL, 
	sent_at DATETIME, 
	attempts INTEGER NOT NULL, 
	error TEXT, 
	PRIMARY KEY (incident_id, escalation_id, step)
);
CREATE TABLE alp_audit (
	id INTEGER NOT NULL, 
	at DATETIME NOT NULL, 
	actor VARCHAR(64) NOT NULL, 
	event VARCHAR(32) NOT NULL, 
	action VARCHAR(64) NOT NULL, 
	params JSON NOT NULL, 
	result TEXT NOT NULL, 
	incident_id INTEGER, 
	PRIMARY KEY (id)
);
CREATE TABLE alp_action_requests (
	id INTEGER NOT NULL, 
	action VARCHAR(64) NOT NULL, 
	params JSON NOT NULL, 
	risk VARCHAR(16) NOT NULL, 
	requester VARCHAR(64) NOT NULL, 
	channel VARCHAR(64) NOT NULL, 
	status VARCHAR(24) NOT NULL, 
	created_at DATETIME NOT NULL, 
	expires_at DATETIME NOT NULL, 
	preview JSON NOT NULL, 
	confirmed_by VARCHAR(64), 
	approver VARCHAR(64), 
	approval_deadline DATETIME, 
	outcome JSON, 
	message_ts VARCHAR(32), 
	thread_ts VARCHAR(32), 
	PRIMARY KEY (id)
);
CREATE TABLE alp_timeline (
	id INTEGER NOT NULL, 
	incident_id INTEGER NOT NULL, 
	at DATETIME NOT NULL, 
	actor VARCHAR(64) NOT NULL, 
	kind VARCHAR(24) NOT NULL, 
	text TEXT NOT NULL, 
	data JSON NOT NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(incident_id) REFERENCES alp_incidents (id)
);
CREATE INDEX ix_alp_timeline_incident_id ON alp_timeline (incident_id);
CREATE TABLE alp_jobs (
	id VARCHAR(191) NOT NULL, 
	next_run_time FLOAT, 
	job_state BLOB NOT NULL, 
	PRIMARY KEY (id)
);
CREATE INDEX ix_alp_jobs_next_run_time ON alp_jobs (next_run_time);
