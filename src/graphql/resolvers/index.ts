import { DateTimeResolver, SafeIntResolver } from "graphql-scalars";
import { GraphQLUpload } from "graphql-upload-minimal";
import type { Resolvers } from "../generated/resolvers.js";
import { mediaFileResolvers } from "./mediaFile.js";
import { mutationResolvers } from "./mutation.js";
import { queryResolvers } from "./query.js";
import { shelfResolvers } from "./shelf.js";
import { subscriptionResolvers } from "./subscription.js";

export const resolvers: Resolvers = {
  DateTime: DateTimeResolver,
  SafeInt: SafeIntResolver,
  Upload: GraphQLUpload,
  ...queryResolvers,
  ...mutationResolvers,
  ...shelfResolvers,
  ...mediaFileResolvers,
  ...subscriptionResolvers,
};
