"""Application-level work that runs on a clock rather than on a message: the weekly voucher
cycle, the daily reminders and the privacy purge (jobs/scheduled.py)."""
