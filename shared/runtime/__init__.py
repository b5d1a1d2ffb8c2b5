"""The local runtime (`t2b up`): every function, the event transport and the PingSource schedules on one machine."""
