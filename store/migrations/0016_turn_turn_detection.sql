-- How an agent judges the caller's turn over: after its end-of-speech silence ('silence', as
-- before), or by whether what was said is finished ('smart'), with that policy's silences
-- (null: the defaults).
ALTER TABLE agents ADD COLUMN turn_detection text NOT NULL DEFAULT 'silence'
    CHECK (turn_detection IN ('silence', 'smart'));
ALTER TABLE agents ADD COLUMN smart_turn jsonb;
