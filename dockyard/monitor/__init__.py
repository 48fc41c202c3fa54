"""Container monitoring: cgroup and /proc readers, discovery, probes, alerts, exposition, the agent."""
