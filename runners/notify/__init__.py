"""Telling people beyond this machine that a run ended: apprise URLs (Slack, Discord, e-mail,
ntfy, a webhook…) from a queue's `notify:` or the config file's, sent by the agent."""
