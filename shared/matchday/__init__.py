"""Match day: a frequent tick reads WhoScored's match centre for matches in progress and the previews of
matches kicking off soon, keeps their history with fetch times and announces changes as events."""
