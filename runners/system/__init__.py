"""What launchbay asks of the OS: process identity, private files, file watches and wake-ups."""
