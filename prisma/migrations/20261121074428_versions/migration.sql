-- AlterTable
ALTER TABLE "MediaFile" ADD COLUMN     "audioCodec" TEXT,
ADD COLUMN     "bitrate" INTEGER,
ADD COLUMN     "frameRate" DOUBLE PRECISION,
ADD COLUMN     "recipe" TEXT,
ADD COLUMN     "videoCodec" TEXT;

-- AlterTable
ALTER TABLE "Shelf" ADD COLUMN     "selectedThumbnailId" UUID,
ADD COLUMN     "thumbnailOfId" UUID;

-- CreateTable
CREATE TABLE "Job" (
    "id" UUID NOT NULL,
    "queue" TEXT NOT NULL,
    "type" TEXT NOT NULL,
    "shelfId" UUID NOT NULL,
    "fileId" UUID,
    "recipe" TEXT,
    "priority" INTEGER NOT NULL DEFAULT 0,
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "runAfter" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "lockedBy" TEXT,
    "lockedUntil" TIMESTAMPTZ(3),
    "lastError" TEXT,
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "Job_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "Job_fileId_key" ON "Job"("fileId");

-- CreateIndex
CREATE INDEX "Job_queue_priority_runAfter_idx" ON "Job"("queue", "priority" DESC, "runAfter");

-- CreateIndex
CREATE UNIQUE INDEX "Shelf_selectedThumbnailId_key" ON "Shelf"("selectedThumbnailId");

-- CreateIndex
CREATE INDEX "Shelf_thumbnailOfId_idx" ON "Shelf"("thumbnailOfId");

-- AddForeignKey
ALTER TABLE "Shelf" ADD CONSTRAINT "Shelf_thumbnailOfId_fkey" FOREIGN KEY ("thumbnailOfId") REFERENCES "Shelf"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Shelf" ADD CONSTRAINT "Shelf_selectedThumbnailId_fkey" FOREIGN KEY ("selectedThumbnailId") REFERENCES "Shelf"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Job" ADD CONSTRAINT "Job_shelfId_fkey" FOREIGN KEY ("shelfId") REFERENCES "Shelf"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Job" ADD CONSTRAINT "Job_fileId_fkey" FOREIGN KEY ("fileId") REFERENCES "MediaFile"("id") ON DELETE CASCADE ON UPDATE CASCADE;
