"""A real local Airflow (api-server with the FAB auth manager) for the platform tests."""
