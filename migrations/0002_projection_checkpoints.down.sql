DROP TABLE IF EXISTS projection_checkpoints;
