-- Every change to a shelf or one of its files is announced on the "shelf_changes" channel, so
-- subscribers hear of writes from any process (service, worker, command line), and only once
-- they are committed. The payload is small JSON:
--   s: the shelf, o: its owner, c: CREATED | UPDATED | DELETED,
--   p: for a poster frame, its video (absent once the video is gone), f: true for a poster frame,
--   t: when the row was written, in milliseconds since the epoch (for latency figures).

CREATE FUNCTION "notify_shelf_change"() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  changed "Shelf";
  parent uuid;
BEGIN
  IF TG_OP = 'DELETE' THEN changed := OLD; ELSE changed := NEW; END IF;
  -- A poster frame deleted with its video speaks only of itself: the video's DELETED says the rest.
  SELECT s.id INTO parent FROM "Shelf" s WHERE s.id = changed."thumbnailOfId";
  PERFORM pg_notify('shelf_changes', json_build_object(
    's', changed.id,
    'o', changed."ownerId",
    'c', CASE TG_OP WHEN 'INSERT' THEN 'CREATED' WHEN 'DELETE' THEN 'DELETED' ELSE 'UPDATED' END,
    'p', parent,
    'f', changed."thumbnailOfId" IS NOT NULL,
    't', floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint
  )::text);
  RETURN NULL;
END
$$;

CREATE FUNCTION "notify_media_file_change"() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  shelf_id uuid;
  owner text;
  parent uuid;
  created_here boolean;
BEGIN
  IF TG_OP = 'DELETE' THEN shelf_id := OLD."shelfId"; ELSE shelf_id := NEW."shelfId"; END IF;
  SELECT s."ownerId", s."thumbnailOfId", s.xmin = pg_current_xact_id_if_assigned()::xid
    INTO owner, parent, created_here
    FROM "Shelf" s WHERE s.id = shelf_id;
  -- Files removed with their shelf, and files written in the transaction that made the shelf,
  -- are covered by the shelf's own DELETED or CREATED.
  IF NOT FOUND OR created_here THEN RETURN NULL; END IF;
  PERFORM pg_notify('shelf_changes', json_build_object(
    's', shelf_id,
    'o', owner,
    'c', 'UPDATED',
    'p', parent,
    'f', parent IS NOT NULL,
    't', floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint
  )::text);
  RETURN NULL;
END
$$;

CREATE TRIGGER "Shelf_notify_insert_delete" AFTER INSERT OR DELETE ON "Shelf"
  FOR EACH ROW EXECUTE FUNCTION "notify_shelf_change"();
CREATE TRIGGER "Shelf_notify_update" AFTER UPDATE ON "Shelf"
  FOR EACH ROW WHEN (OLD IS DISTINCT FROM NEW) EXECUTE FUNCTION "notify_shelf_change"();
CREATE TRIGGER "MediaFile_notify_insert_delete" AFTER INSERT OR DELETE ON "MediaFile"
  FOR EACH ROW EXECUTE FUNCTION "notify_media_file_change"();
CREATE TRIGGER "MediaFile_notify_update" AFTER UPDATE ON "MediaFile"
  FOR EACH ROW WHEN (OLD IS DISTINCT FROM NEW) EXECUTE FUNCTION "notify_media_file_change"();
