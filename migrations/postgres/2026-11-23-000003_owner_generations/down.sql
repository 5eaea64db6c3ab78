DROP TABLE owner_generations;
