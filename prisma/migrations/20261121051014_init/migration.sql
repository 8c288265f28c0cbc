-- CreateEnum
CREATE TYPE "MediaKind" AS ENUM ('IMAGE', 'AUDIO', 'VIDEO', 'DOCUMENT');

-- CreateEnum
CREATE TYPE "FileRole" AS ENUM ('ORIGINAL', 'VERSION');

-- CreateEnum
CREATE TYPE "VersionStatus" AS ENUM ('PENDING', 'PROCESSING', 'READY', 'FAILED');

-- CreateTable
CREATE TABLE "Shelf" (
    "id" UUID NOT NULL,
    "ownerId" TEXT NOT NULL,
    "kind" "MediaKind" NOT NULL,
    "title" TEXT NOT NULL,
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "Shelf_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "MediaFile" (
    "id" UUID NOT NULL,
    "shelfId" UUID NOT NULL,
    "variant" TEXT NOT NULL,
    "role" "FileRole" NOT NULL,
    "preset" TEXT,
    "storage" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "size" BIGINT NOT NULL,
    "mimeType" TEXT NOT NULL,
    "checksum" TEXT NOT NULL,
    "width" INTEGER,
    "height" INTEGER,
    "durationMs" INTEGER,
    "status" "VersionStatus" NOT NULL DEFAULT 'READY',
    "progress" DOUBLE PRECISION,
    "error" TEXT,
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "MediaFile_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "StorageDeletion" (
    "id" BIGSERIAL NOT NULL,
    "storage" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "lastError" TEXT,
    "notBefore" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "StorageDeletion_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "Shelf_ownerId_createdAt_id_idx" ON "Shelf"("ownerId", "createdAt" DESC, "id" DESC);

-- CreateIndex
CREATE INDEX "Shelf_ownerId_kind_createdAt_id_idx" ON "Shelf"("ownerId", "kind", "createdAt" DESC, "id" DESC);

-- CreateIndex
CREATE UNIQUE INDEX "MediaFile_shelfId_variant_key" ON "MediaFile"("shelfId", "variant");

-- CreateIndex
CREATE UNIQUE INDEX "MediaFile_storage_name_key" ON "MediaFile"("storage", "name");

-- CreateIndex
CREATE INDEX "StorageDeletion_notBefore_idx" ON "StorageDeletion"("notBefore");

-- AddForeignKey
ALTER TABLE "MediaFile" ADD CONSTRAINT "MediaFile_shelfId_fkey" FOREIGN KEY ("shelfId") REFERENCES "Shelf"("id") ON DELETE CASCADE ON UPDATE CASCADE;
