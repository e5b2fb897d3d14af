"""The attacker: scripted nmap sweeps of the target, every scan and observation recorded."""
