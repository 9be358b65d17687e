"""The slurm target: the job runs as a batch job on a Slurm cluster (sbatch), here or over SSH."""
