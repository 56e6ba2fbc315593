-- One database per service; the registry database holds users, the audit log and the champion history.
CREATE DATABASE mlflow;
CREATE DATABASE prefect;
CREATE DATABASE registry;
