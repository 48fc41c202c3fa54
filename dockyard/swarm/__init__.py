"""Swarm environments: one Swarm service per dockyard.yml service (translate, plan, apply, observe)."""
