-- CreateTable
CREATE TABLE "ShelfRelation" (
    "id" UUID NOT NULL,
    "shelfId" UUID NOT NULL,
    "ownerId" TEXT NOT NULL,
    "model" TEXT NOT NULL,
    "objectId" TEXT NOT NULL,
    "position" INTEGER NOT NULL,
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "ShelfRelation_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "ShelfRelation_ownerId_model_objectId_position_idx" ON "ShelfRelation"("ownerId", "model", "objectId", "position");

-- CreateIndex
CREATE UNIQUE INDEX "ShelfRelation_shelfId_model_objectId_key" ON "ShelfRelation"("shelfId", "model", "objectId");

-- AddForeignKey
ALTER TABLE "ShelfRelation" ADD CONSTRAINT "ShelfRelation_shelfId_fkey" FOREIGN KEY ("shelfId") REFERENCES "Shelf"("id") ON DELETE CASCADE ON UPDATE CASCADE;
