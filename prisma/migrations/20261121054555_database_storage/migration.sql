-- CreateTable
CREATE TABLE "StoredObject" (
    "id" BIGSERIAL NOT NULL,
    "storage" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "size" BIGINT NOT NULL DEFAULT 0,
    "chunkSize" INTEGER NOT NULL,
    "complete" BOOLEAN NOT NULL DEFAULT false,
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "modifiedAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "StoredObject_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "StoredChunk" (
    "objectId" BIGINT NOT NULL,
    "seq" INTEGER NOT NULL,
    "data" BYTEA NOT NULL,

    CONSTRAINT "StoredChunk_pkey" PRIMARY KEY ("objectId","seq")
);

-- CreateIndex
CREATE UNIQUE INDEX "StoredObject_storage_name_key" ON "StoredObject"("storage", "name");

-- AddForeignKey
ALTER TABLE "StoredChunk" ADD CONSTRAINT "StoredChunk_objectId_fkey" FOREIGN KEY ("objectId") REFERENCES "StoredObject"("id") ON DELETE CASCADE ON UPDATE CASCADE;
