"""The Ray Tune search over task groupings and loss-balancer settings (`ppg tune`), constrained by AF."""
