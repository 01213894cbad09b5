DROP TABLE execution_feed_checkpoint;
DROP TABLE execution_work;
